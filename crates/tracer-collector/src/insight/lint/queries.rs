//! N+1 queries: one parent running the same statement shape again and again, usually once per
//! item of a list read just before.
//!
//! The database calls of a parent (client spans with `db.system.name`) that ended without
//! error are grouped by service, database system and statement shape; a group of
//! [`N_PLUS_ONE_MIN`] or more is a finding, whether the queries ran one after another (the
//! staircase) or concurrently (they still cost a round trip and a connection each). The shape
//! is [`statement_shape`] of `db.query.text`, or `db.operation.name db.collection.name`, or the
//! span name. Failed calls are left to the retry and error rules: three timeouts of one cache
//! read are retries, not N+1.
//!
//! ```
//! use tracer_collector::insight::lint::queries::statement_shape;
//!
//! assert_eq!(
//!     statement_shape("SELECT name FROM products WHERE sku = 25 AND tag IN ('a', 'b')"),
//!     "select name from products where sku = ? and tag in (?)"
//! );
//! assert_eq!(statement_shape("GET product:25"), "get product:?");
//! ```

use std::collections::HashMap;

use opentelemetry_semantic_conventions::attribute as semconv;

use super::{Finding, Rule, Severity, Words, ms, times};
use crate::insight::view::TraceView;

/// Fewest queries of one shape under one parent that make a finding.
pub const N_PLUS_ONE_MIN: usize = 3;

/// Longest statement text read, in bytes; the rest is ignored.
const MAX_STATEMENT: usize = 512;

/// One group of repeated queries and its finding.
#[derive(Debug, Clone)]
pub struct Group {
    /// Span indexes of the queries, in start order.
    pub spans: Vec<usize>,
    /// The finding.
    pub finding: Finding,
}

/// The shape of a statement: lower case, string and number literals as `?`, `IN (...)` lists
/// and `VALUES (...)` rows as one `(?)`, placeholders (`?`, `$1`, `:name`) as `?`, runs of
/// white space as one space. Digits that are part of a name (`t1`) stay; digits after a
/// separator (`product:25`) are a literal.
pub fn statement_shape(text: &str) -> String {
    let text = crate::insight::view::clip(text, MAX_STATEMENT);
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let word = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            // A quoted literal, with doubled quotes inside.
            i += 1;
            while i < chars.len() {
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            out.push('?');
        } else if c.is_ascii_digit() && !out.chars().next_back().is_some_and(word) {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push('?');
        } else if (c == '$' || c == ':')
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())
            && !out.ends_with(':')
            && (c == '$' || !out.chars().next_back().is_some_and(word))
        {
            i += 1;
            while i < chars.len() && word(chars[i]) {
                i += 1;
            }
            out.push('?');
        } else if c.is_whitespace() {
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            if !out.is_empty() {
                out.push(' ');
            }
        } else {
            out.extend(c.to_lowercase());
            i += 1;
        }
    }
    fold_lists(out.trim_end())
}

/// `(?, ?, ?)` -> `(?)`, and repeated `(?), (?)` rows -> `(?)`.
fn fold_lists(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('(') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(')') {
            Some(close)
                if after[..close]
                    .split(',')
                    .all(|item| item.trim() == "?" || item.trim().is_empty())
                    && !after[..close].trim().is_empty() =>
            {
                // A list of literals: fold it, and fold any further rows that follow.
                if !out.ends_with("(?), ") && !out.ends_with("(?),") {
                    out.push_str("(?)");
                } else {
                    let trimmed = out.trim_end_matches([',', ' ']).len();
                    out.truncate(trimmed);
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('(');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What makes two queries the same statement in a span.
fn shape_of(trace: &TraceView, i: usize) -> String {
    let span = &trace.spans[i];
    if let Some(text) = span.attr(semconv::DB_QUERY_TEXT).filter(|t| !t.is_empty()) {
        return statement_shape(text);
    }
    match (
        span.attr(semconv::DB_OPERATION_NAME),
        span.attr(semconv::DB_COLLECTION_NAME),
    ) {
        (Some(op), Some(coll)) => format!("{} {coll}", op.to_lowercase()),
        (Some(op), None) => op.to_lowercase(),
        _ => span.name.to_lowercase(),
    }
}

/// The N+1 groups of `trace`.
pub fn find(trace: &TraceView) -> Vec<Group> {
    let mut out = Vec::new();
    for parent in 0..trace.spans.len() {
        let mut groups: HashMap<(&str, &str, String), Vec<usize>> = HashMap::new();
        for &c in trace.children(parent) {
            let span = &trace.spans[c];
            let Some(system) = span.db_system() else {
                continue;
            };
            if !span.is_call() || span.failing() {
                continue;
            }
            groups
                .entry((span.service.as_str(), system, shape_of(trace, c)))
                .or_default()
                .push(c);
        }
        let mut found: Vec<_> = groups
            .into_iter()
            .filter(|(_, spans)| spans.len() >= N_PLUS_ONE_MIN)
            .collect();
        found.sort_by_key(|(_, spans)| spans[0]);
        for ((_, system, shape), spans) in found {
            out.push(group(trace, parent, system, &shape, spans));
        }
    }
    out
}

fn group(trace: &TraceView, parent: usize, system: &str, shape: &str, spans: Vec<usize>) -> Group {
    let durations: Vec<u64> = spans.iter().map(|&i| trace.spans[i].duration_ns).collect();
    let total: u64 = durations.iter().sum();
    let longest = durations.iter().copied().max().unwrap_or(0);
    let sequential = spans
        .windows(2)
        .all(|w| trace.spans[w[1]].start_ns >= trace.spans[w[0]].end_ns());
    let how = if sequential {
        "one after another"
    } else {
        "concurrently"
    };
    let batch = if system == "redis" {
        "one MGET or a pipeline"
    } else {
        "one query (WHERE … IN (…) or a join)"
    };
    let words = Words {
        subject: format!(
            "{} under {}",
            times(spans.len(), &trace.label(spans[0])),
            trace.label(parent)
        ),
        evidence: format!(
            "the same statement `{}` ran {} times {how}, {} in all",
            crate::insight::view::clip(shape, 120),
            spans.len(),
            ms(total)
        ),
        fix: format!("fetch the rows in {batch} instead of one query per item"),
    };
    let finding = Finding::new(
        trace,
        Rule::NPlusOne,
        Severity::Warning,
        &spans,
        words,
        total.saturating_sub(longest),
    );
    Group { spans, finding }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_fold_literals_lists_and_placeholders() {
        let cases = [
            (
                "SELECT * FROM t1 WHERE id = 7",
                "select * from t1 where id = ?",
            ),
            (
                "select * from t where id = ?",
                "select * from t where id = ?",
            ),
            (
                "SELECT * FROM t WHERE id IN (1, 2, 3)",
                "select * from t where id in (?)",
            ),
            (
                "SELECT * FROM t WHERE id IN (?,?,?,?)",
                "select * from t where id in (?)",
            ),
            (
                "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')",
                "insert into t (a, b) values (?)",
            ),
            (
                "SELECT * FROM t WHERE name = 'O''Brien'",
                "select * from t where name = ?",
            ),
            ("SELECT $1, $2", "select ?, ?"),
            ("SELECT  a\n\tFROM t", "select a from t"),
            ("SELECT 1.5e3", "select ?"),
            ("HGET user:42 name", "hget user:? name"),
            ("SELECT a::text FROM t", "select a::text from t"),
        ];
        for (text, shape) in cases {
            assert_eq!(statement_shape(text), shape, "{text}");
        }
    }

    #[test]
    fn a_shape_is_bounded_and_never_panics_on_odd_text() {
        for text in ["'", "\"unterminated", "(((", ")", "$", ":", "é'ü", "IN ()"] {
            let _ = statement_shape(text);
        }
        assert!(statement_shape(&"x".repeat(10_000)).len() <= MAX_STATEMENT);
    }
}
