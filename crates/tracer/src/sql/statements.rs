//! Sanitized statements remembered per statement text.
//!
//! A service sends the same few statements over and over (prepared or written with bound
//! parameters), so sanitizing and summarizing each one again for every sampled query repeats
//! the same work. The cache keeps, per exact statement text, what the span needs: the
//! sanitized text (shared, not copied, into `db.query.text`), the operation, the collection
//! and the span name. It is bounded: at most [`MAX_STATEMENTS`] entries, statements longer
//! than [`MAX_CACHED_LEN`] bytes are sanitized every time, and a full cache is emptied and
//! starts over (statements with literals written inline, each text seen once, would otherwise
//! push the steady ones out one by one at the same cost). Keys are the raw text, which may hold
//! literal values: they stay in memory and are never recorded.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use opentelemetry::StringValue;

use super::sanitize::{Flavor, sanitize, summarize};

/// Most statements remembered.
pub(super) const MAX_STATEMENTS: usize = 512;
/// Longest statement text remembered, in bytes.
pub(super) const MAX_CACHED_LEN: usize = 4096;

/// What a query span records of its statement.
#[derive(Debug)]
pub(super) struct Statement {
    /// The sanitized text, for `db.query.text`.
    pub(super) text: StringValue,
    /// `db.operation.name`, when the statement has one.
    pub(super) operation: Option<StringValue>,
    /// `db.collection.name`, when the statement names one.
    pub(super) collection: Option<StringValue>,
    /// The span name; `None`: the database system's name (no operation).
    pub(super) name: Option<Cow<'static, str>>,
}

impl Statement {
    fn of(sql: &str, flavor: Flavor) -> Self {
        let text = sanitize(sql, flavor);
        let summary = summarize(&text);
        let name = (!summary.operation.is_empty()).then(|| summary.span_name(""));
        Self {
            operation: (!summary.operation.is_empty()).then(|| summary.operation.into()),
            collection: summary.collection.map(StringValue::from),
            name,
            text: StringValue::from(Arc::<str>::from(text)),
        }
    }
}

/// The bounded map from statement text to [`Statement`].
#[derive(Debug, Default)]
pub(super) struct Statements {
    map: Mutex<HashMap<Box<str>, Arc<Statement>>>,
}

impl Statements {
    /// The statement for `sql`, sanitized in `flavor` on first sight.
    pub(super) fn get(&self, sql: &str, flavor: Flavor) -> Arc<Statement> {
        if sql.len() > MAX_CACHED_LEN {
            return Arc::new(Statement::of(sql, flavor));
        }
        if let Some(hit) = self.lock().get(sql) {
            return hit.clone();
        }
        // Sanitized outside the lock: another query may do the same meanwhile, harmlessly.
        let statement = Arc::new(Statement::of(sql, flavor));
        let mut map = self.lock();
        if map.len() >= MAX_STATEMENTS {
            map.clear();
        }
        map.insert(sql.into(), statement.clone());
        statement
    }

    /// Statements remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Arc<Statement>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_is_sanitized_once_and_shared() {
        let statements = Statements::default();
        let a = statements.get("SELECT * FROM orders WHERE id = 42", Flavor::MYSQL);
        let b = statements.get("SELECT * FROM orders WHERE id = 42", Flavor::MYSQL);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.text.as_str(), "SELECT * FROM orders WHERE id = ?");
        assert_eq!(
            a.operation.as_ref().map(StringValue::as_str),
            Some("SELECT")
        );
        assert_eq!(
            a.collection.as_ref().map(StringValue::as_str),
            Some("orders")
        );
        assert_eq!(a.name.as_deref(), Some("SELECT orders"));
        let empty = statements.get("  ", Flavor::MYSQL);
        assert!(empty.operation.is_none() && empty.name.is_none());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let statements = Statements::default();
        for i in 0..MAX_STATEMENTS * 3 {
            statements.get(&format!("SELECT {i} FROM t"), Flavor::MYSQL);
            assert!(statements.len() <= MAX_STATEMENTS);
        }
        let long = format!("SELECT '{}' FROM t", "x".repeat(MAX_CACHED_LEN));
        let a = statements.get(&long, Flavor::MYSQL);
        let b = statements.get(&long, Flavor::MYSQL);
        assert!(!Arc::ptr_eq(&a, &b), "a long statement is not kept");
        assert_eq!(a.text.as_str(), "SELECT ? FROM t");
    }
}
