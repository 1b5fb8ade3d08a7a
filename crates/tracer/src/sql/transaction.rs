//! [`Transaction`]: a sqlx transaction that is a span parenting its statements.

use std::fmt;
use std::ops::{Deref, DerefMut};

use opentelemetry::Context;
use opentelemetry::trace::{Status, TraceContextExt as _};
use sqlx::Database;

use super::Dialect;
use super::connection::Connection;
use super::span::{QuerySpan, classify};

/// The connection type inside a transaction: what `&mut *tx` is.
pub type TransactionConnection<DB> = Connection<DB, sqlx::Transaction<'static, DB>>;

/// A transaction from [`super::Pool::begin`].
///
/// Its `TRANSACTION` span parents `BEGIN`, every query run through `&mut *tx` (or `&mut tx`),
/// and `COMMIT` or `ROLLBACK`. As with sqlx, dropping it without [`Transaction::commit`] rolls
/// back; the span then ends with a `rollback_on_drop` event.
pub struct Transaction<DB: Database> {
    conn: TransactionConnection<DB>,
    span: TransactionSpan,
}

impl<DB: Database> fmt::Debug for Transaction<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("conn", &self.conn)
            .finish()
    }
}

impl<DB: Database> Deref for Transaction<DB> {
    type Target = TransactionConnection<DB>;

    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl<DB: Database> DerefMut for Transaction<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

impl<DB: Dialect> Transaction<DB> {
    pub(super) fn new(conn: TransactionConnection<DB>, span: TransactionSpan) -> Self {
        Self { conn, span }
    }

    /// Commits, in a `COMMIT` span; then the transaction's span ends.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let Self { conn, mut span } = self;
        let statement = QuerySpan::start(&conn.shared, "COMMIT", &span.cx);
        let result = conn.inner.commit().await;
        span.end::<DB>(statement, result.as_ref().err());
        result
    }

    /// Rolls back, in a `ROLLBACK` span; then the transaction's span ends.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        let Self { conn, mut span } = self;
        let statement = QuerySpan::start(&conn.shared, "ROLLBACK", &span.cx);
        let result = conn.inner.rollback().await;
        span.end::<DB>(statement, result.as_ref().err());
        result
    }
}

/// The `TRANSACTION` span (inside its context), ended on commit, rollback or drop.
pub(super) struct TransactionSpan {
    cx: Context,
    /// False while switched off: `cx` is then the caller's context, whose span is not ours.
    open: bool,
}

impl TransactionSpan {
    /// `cx` holds the transaction's span when `owned`.
    pub(super) fn new(cx: Context, owned: bool) -> Self {
        Self { cx, open: owned }
    }

    /// The transaction could not start.
    pub(super) fn fail<DB: Dialect>(&mut self, error: &sqlx::Error) {
        if !self.open {
            return;
        }
        let span = self.cx.span();
        let (error_type, _) = classify::<DB>(error);
        span.set_attribute(opentelemetry::KeyValue::new(
            crate::semconv::ERROR_TYPE,
            error_type.clone(),
        ));
        span.set_status(Status::error(error_type));
        self.open = false;
        span.end();
    }

    fn end<DB: Dialect>(&mut self, statement: Option<QuerySpan>, error: Option<&sqlx::Error>) {
        if let Some(mut statement) = statement {
            if let Some(error) = error {
                statement.fail::<DB>(error);
            }
            statement.finish();
        }
        match error {
            Some(error) => self.fail::<DB>(error),
            None if self.open => {
                self.open = false;
                self.cx.span().end();
            }
            None => {}
        }
    }
}

impl Drop for TransactionSpan {
    fn drop(&mut self) {
        if self.open {
            let span = self.cx.span();
            span.add_event("rollback_on_drop", Vec::new());
            span.end();
        }
    }
}

impl<'c, DB> sqlx::Executor<'c> for &'c mut Transaction<DB>
where
    DB: Dialect,
    for<'a> &'a mut DB::Connection: sqlx::Executor<'a, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> super::stream::BoxStream<'e, super::stream::Item<DB>>
    where
        'c: 'e,
        E: 'q + sqlx::Execute<'q, DB>,
    {
        (&mut self.conn).fetch_many(query)
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> super::dialect::BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + sqlx::Execute<'q, DB>,
    {
        (&mut self.conn).fetch_optional(query)
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> super::dialect::BoxFuture<'e, Result<DB::Statement, sqlx::Error>>
    where
        'c: 'e,
    {
        (&mut self.conn).prepare_with(sql, parameters)
    }

    fn describe<'e>(
        self,
        sql: sqlx::SqlStr,
    ) -> super::dialect::BoxFuture<'e, Result<sqlx::Describe<DB>, sqlx::Error>>
    where
        'c: 'e,
    {
        (&mut self.conn).describe(sql)
    }
}
