//! [`Connection`]: one connection taken from a [`super::Pool`], instrumented.

use std::fmt;
use std::marker::PhantomData;
use std::ops::DerefMut;
use std::sync::Arc;

use opentelemetry::Context;
use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::{Database, Execute, Executor, SqlStr};

use super::dialect::BoxFuture;
use super::span::QuerySpan;
use super::stream::{BoxStream, Item, Traced};
use super::{Dialect, Shared};

/// A connection of a [`super::Pool`] (or, as `&mut *tx`, of a [`super::Transaction`]) whose
/// queries are spans. `&mut conn` is a [`sqlx::Executor`].
///
/// `H` holds the sqlx connection: a [`PoolConnection`] from [`super::Pool::acquire`], a
/// [`sqlx::Transaction`] inside a transaction. Dropping it returns the connection to the pool.
pub struct Connection<DB: Database, H = PoolConnection<DB>> {
    pub(super) inner: H,
    pub(super) shared: Arc<Shared>,
    /// The transaction's span context; queries outside a transaction use the current context.
    pub(super) parent: Option<Context>,
    _db: PhantomData<fn() -> DB>,
}

impl<DB: Database, H> Connection<DB, H> {
    pub(super) fn new(inner: H, shared: Arc<Shared>, parent: Option<Context>) -> Self {
        Self {
            inner,
            shared,
            parent,
            _db: PhantomData,
        }
    }

    /// The sqlx connection: queries sent through it directly are not recorded.
    pub fn raw(&mut self) -> &mut H {
        &mut self.inner
    }

    /// Unwraps the sqlx connection.
    pub fn into_inner(self) -> H {
        self.inner
    }

    fn parent(&self) -> Context {
        self.parent.clone().unwrap_or_else(Context::current)
    }
}

impl<DB: Database, H: fmt::Debug> fmt::Debug for Connection<DB, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("inner", &self.inner)
            .field("system", &self.shared.system)
            .finish()
    }
}

/// A query taken apart before it runs: its SQL is read for the span, everything else is
/// handed on unchanged. Bound arguments are moved, never looked at.
pub(super) struct Captured<DB: Database> {
    sql: SqlStr,
    statement: Option<DB::Statement>,
    arguments: Option<Result<Option<DB::Arguments>, BoxDynError>>,
    persistent: bool,
}

impl<DB: Database> Captured<DB> {
    pub(super) fn new<'q, E: Execute<'q, DB>>(mut query: E) -> Self {
        let statement = query.statement().cloned();
        let persistent = query.persistent();
        let arguments = Some(query.take_arguments());
        Self {
            sql: query.sql(),
            statement,
            arguments,
            persistent,
        }
    }

    pub(super) fn text(&self) -> &str {
        self.sql.as_str()
    }
}

impl<DB: Database> Execute<'_, DB> for Captured<DB> {
    fn sql(self) -> SqlStr {
        self.sql
    }

    fn statement(&self) -> Option<&DB::Statement> {
        self.statement.as_ref()
    }

    fn take_arguments(&mut self) -> Result<Option<DB::Arguments>, BoxDynError> {
        self.arguments.take().unwrap_or(Ok(None))
    }

    fn persistent(&self) -> bool {
        self.persistent
    }
}

/// Runs `query` on `conn` as a stream of results inside a query span under `parent`.
pub(super) fn fetch_many<'e, DB>(
    conn: &'e mut DB::Connection,
    shared: &Shared,
    parent: &Context,
    query: Captured<DB>,
) -> BoxStream<'e, Item<DB>>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    match QuerySpan::start(shared, query.text(), parent) {
        Some(span) => Box::pin(Traced::<DB>::new(conn.fetch_many(query), span)),
        None => conn.fetch_many(query),
    }
}

/// Runs `query` on `conn` for at most one row inside a query span under `parent`.
pub(super) async fn fetch_optional<DB>(
    conn: &mut DB::Connection,
    shared: &Shared,
    parent: &Context,
    query: Captured<DB>,
) -> Result<Option<DB::Row>, sqlx::Error>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let span = QuerySpan::start(shared, query.text(), parent);
    let result = conn.fetch_optional(query).await;
    if let Some(mut span) = span {
        match &result {
            Ok(Some(_)) => span.row(),
            Ok(None) => {}
            Err(error) => span.fail::<DB>(error),
        }
        span.finish();
    }
    result
}

impl<'c, DB, H> Executor<'c> for &'c mut Connection<DB, H>
where
    DB: Dialect,
    H: DerefMut<Target = DB::Connection> + Send + fmt::Debug,
    for<'a> &'a mut DB::Connection: Executor<'a, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Item<DB>>
    where
        'c: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let parent = self.parent();
        if !self.shared.tracer.records_leaf(&parent) {
            return self.inner.deref_mut().fetch_many(query);
        }
        fetch_many::<DB>(
            self.inner.deref_mut(),
            &self.shared,
            &parent,
            Captured::new(query),
        )
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let parent = self.parent();
        if !self.shared.tracer.records_leaf(&parent) {
            return self.inner.deref_mut().fetch_optional(query);
        }
        let query = Captured::new(query);
        Box::pin(async move {
            fetch_optional::<DB>(self.inner.deref_mut(), &self.shared, &parent, query).await
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, sqlx::Error>>
    where
        'c: 'e,
    {
        self.inner.deref_mut().prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<sqlx::Describe<DB>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.inner.deref_mut().describe(sql)
    }
}
