//! [`Pool`]: a sqlx pool whose queries, connection waits and transactions are spans.

use std::fmt;
use std::sync::Arc;

use opentelemetry::trace::{SpanKind, TraceContextExt as _};
use opentelemetry::{Context, KeyValue, StringValue};
use sqlx::{Database, Execute, Executor, SqlStr};

use super::connection::{Captured, Connection, fetch_many, fetch_optional};
use super::dialect::BoxFuture;
use super::span::{self, DB_NAMESPACE, DB_SYSTEM_NAME, QuerySpan};
use super::stream::{BoxStream, Driven, Item};
use super::transaction::{Transaction, TransactionSpan};
use super::{Dialect, Shared};
use crate::Tracer;

/// A [`sqlx::Pool`] whose queries are spans; `&Pool` is a [`sqlx::Executor`], so
/// `sqlx::query(..).fetch_all(&pool)` works unchanged (see the [module docs](super)).
///
/// Cloning is cheap and shares the pool.
pub struct Pool<DB: Database> {
    inner: sqlx::Pool<DB>,
    shared: Arc<Shared>,
}

impl<DB: Database> Clone for Pool<DB> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<DB: Database> fmt::Debug for Pool<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("inner", &self.inner)
            .field("system", &self.shared.system)
            .field("service", &self.shared.tracer.service_name())
            .finish()
    }
}

impl<DB: Dialect> Pool<DB> {
    /// Wraps `pool`, recording into [`crate::global`].
    ///
    /// `server.address`, `server.port` and `db.namespace` come from the pool's connect options;
    /// `db.system.name` is the dialect's (`mysql`, `postgresql`) until [`Pool::detect`] asks the
    /// server.
    pub fn new(pool: sqlx::Pool<DB>) -> Self {
        let endpoint = DB::endpoint(&pool.connect_options());
        let string = |s: String| StringValue::from(Arc::<str>::from(s));
        Self {
            inner: pool,
            shared: Arc::new(Shared {
                tracer: crate::global(),
                system: DB::SYSTEM_NAME,
                flavor: DB::FLAVOR,
                namespace: endpoint.database.map(string),
                address: endpoint.address.map(string),
                port: endpoint.port.map(i64::from),
                query_text: true,
                statements: Arc::default(),
            }),
        }
    }

    /// Connects a sqlx pool to `url` with default options, wraps it and [detects](Pool::detect)
    /// the server.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        Self::new(sqlx::Pool::connect(url).await?).detect().await
    }

    /// Asks the server what it is, for `db.system.name` (`mariadb` rather than `mysql`).
    pub async fn detect(mut self) -> Result<Self, sqlx::Error> {
        let mut conn = self.inner.acquire().await?;
        let system = DB::detect(&mut conn).await?;
        Arc::make_mut(&mut self.shared).system = system;
        Ok(self)
    }

    /// Records into `tracer` instead of the global tracer.
    #[must_use]
    pub fn with_tracer(mut self, tracer: Tracer) -> Self {
        Arc::make_mut(&mut self.shared).tracer = tracer;
        self
    }

    /// Records `db.query.text` (sanitized: no literal values). On by default.
    #[must_use]
    pub fn query_text(mut self, on: bool) -> Self {
        Arc::make_mut(&mut self.shared).query_text = on;
        self
    }

    /// Sets `db.system.name` (for a server [`Pool::detect`] cannot tell apart).
    #[must_use]
    pub fn system_name(mut self, name: &'static str) -> Self {
        Arc::make_mut(&mut self.shared).system = name;
        self
    }

    /// The `db.system.name` recorded.
    pub fn system(&self) -> &'static str {
        self.shared.system
    }

    /// The tracer spans are recorded into.
    pub fn tracer(&self) -> &Tracer {
        &self.shared.tracer
    }

    /// The sqlx pool: queries sent through it directly are not recorded.
    pub fn inner(&self) -> &sqlx::Pool<DB> {
        &self.inner
    }

    /// Unwraps the sqlx pool.
    pub fn into_inner(self) -> sqlx::Pool<DB> {
        self.inner
    }

    /// Takes a connection, in a `pool.acquire` span under the current context.
    pub async fn acquire(&self) -> Result<Connection<DB>, sqlx::Error> {
        let conn = span::acquire(&self.inner, &self.shared, &Context::current()).await?;
        Ok(Connection::new(conn, self.shared.clone(), None))
    }

    /// Starts a transaction: a `TRANSACTION` span under the current context, holding the
    /// `pool.acquire` and `BEGIN` spans, the transaction's queries and its end.
    pub async fn begin(&self) -> Result<Transaction<DB>, sqlx::Error> {
        let shared = &self.shared;
        let parent = Context::current();
        let mut attributes = vec![KeyValue::new(DB_SYSTEM_NAME, shared.system)];
        if let Some(namespace) = &shared.namespace {
            attributes.push(KeyValue::new(DB_NAMESPACE, namespace.clone()));
        }
        let (cx, owned) =
            match shared
                .tracer
                .span("TRANSACTION", SpanKind::Internal, attributes, &parent)
            {
                Some(span) => (parent.with_span(span), true),
                None => (parent, false),
            };
        let mut tx_span = TransactionSpan::new(cx.clone(), owned);
        let conn = match span::acquire(&self.inner, shared, &cx).await {
            Ok(conn) => conn,
            Err(error) => {
                tx_span.fail::<DB>(&error);
                return Err(error);
            }
        };
        let begin = QuerySpan::start(shared, "BEGIN", &cx);
        // `Transaction::begin` is what `sqlx::Pool::begin` runs after acquiring; calling it
        // ourselves keeps the wait for the connection and the BEGIN statement apart.
        match sqlx::Transaction::begin(conn, None).await {
            Ok(tx) => {
                if let Some(begin) = begin {
                    begin.finish();
                }
                Ok(Transaction::new(
                    Connection::new(tx, shared.clone(), Some(cx)),
                    tx_span,
                ))
            }
            Err(error) => {
                if let Some(mut begin) = begin {
                    begin.fail::<DB>(&error);
                    begin.finish();
                }
                tx_span.fail::<DB>(&error);
                Err(error)
            }
        }
    }
}

impl<'p, DB> Executor<'p> for &'_ Pool<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Item<DB>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let parent = Context::current();
        if !self.shared.tracer.records_leaf(&parent) {
            return (&self.inner).fetch_many(query);
        }
        let pool = self.clone();
        let query = Captured::new(query);
        Box::pin(Driven::new(move |yielder| async move {
            let mut conn = match span::acquire(&pool.inner, &pool.shared, &parent).await {
                Ok(conn) => conn,
                Err(error) => return yielder.send(Err(error)).await,
            };
            let mut results = fetch_many::<DB>(&mut conn, &pool.shared, &parent, query);
            while let Some(item) = futures_util::StreamExt::next(&mut results).await {
                let failed = item.is_err();
                yielder.send(item).await;
                if failed {
                    break;
                }
            }
        }))
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let parent = Context::current();
        if !self.shared.tracer.records_leaf(&parent) {
            return (&self.inner).fetch_optional(query);
        }
        let pool = self.clone();
        let query = Captured::new(query);
        Box::pin(async move {
            let mut conn = span::acquire(&pool.inner, &pool.shared, &parent).await?;
            fetch_optional::<DB>(&mut conn, &pool.shared, &parent, query).await
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, sqlx::Error>>
    where
        'p: 'e,
    {
        (&self.inner).prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<sqlx::Describe<DB>, sqlx::Error>> {
        (&self.inner).describe(sql)
    }
}
