//! SQL instrumentation for sqlx (features `sqlx-mysql`, `sqlx-postgres`).
//!
//! sqlx runs every query through its [`sqlx::Executor`] trait: `sqlx::query(..).fetch_one(&pool)`
//! hands the query to `&Pool`, `execute(&mut *tx)` to the transaction's connection. This module
//! wraps those executors, so code written for sqlx keeps working and every query becomes a span:
//!
//! - [`Pool`] wraps [`sqlx::Pool`]; `&Pool` is an executor. Each query first waits for a pooled
//!   connection in an INTERNAL `pool.acquire` span, so an exhausted pool shows as long
//!   `pool.acquire` spans in the trace, then runs in a CLIENT span.
//! - [`Pool::acquire`] gives a [`Connection`] (`&mut conn` is an executor) and [`Pool::begin`] a
//!   [`Transaction`]: an INTERNAL `TRANSACTION` span parenting `BEGIN`, its queries and
//!   `COMMIT` or `ROLLBACK`; `&mut *tx` is an executor, as with sqlx.
//! - A query span is named `{db.operation.name} {db.collection.name}` (`SELECT orders`), or the
//!   operation alone, read from the SQL text; it is a child of
//!   [`Context::current`](opentelemetry::Context::current) (of the
//!   transaction inside one).
//! - Attributes: `db.system.name` (`mysql`, `mariadb` once detected, `postgresql`),
//!   `db.namespace` (the database), `db.operation.name`, `db.collection.name`, `db.query.text`
//!   ([sanitized](sanitize): every literal replaced by `?`; bound parameters are never read),
//!   `server.address`, `server.port`, `db.response.returned_rows` and, for statements that
//!   change rows, `tracer.sql.rows_affected`.
//! - A failed query sets `error.type` and `db.response.status_code`: the MySQL error number
//!   (`1062`) or the PostgreSQL SQLSTATE (`23505`). The server's message is never recorded: it
//!   can quote the values (`Duplicate entry 'alice@example.com'`).
//!
//! While the tracer is switched off, queries go straight to sqlx: no span, no SQL parsing.
//!
//! ```no_run
//! use tracer::sql::Pool;
//!
//! # async fn run() -> Result<(), sqlx::Error> {
//! // Connects, then asks the server whether it is MySQL or MariaDB.
//! let pool: Pool<sqlx::MySql> = Pool::connect("mysql://root@127.0.0.1:3306/test").await?;
//! let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders WHERE status = ?")
//!     .bind("open") // never recorded
//!     .fetch_one(&pool) // spans `pool.acquire`, then `SELECT orders`
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Wrapping an existing sqlx pool, with a tracer of its own and a transaction:
//!
//! ```no_run
//! use tracer::sql::Pool;
//!
//! # async fn run(tracer: tracer::Tracer) -> Result<(), sqlx::Error> {
//! let raw = sqlx::postgres::PgPoolOptions::new()
//!     .max_connections(5)
//!     .connect("postgres://postgres@127.0.0.1:5432/test")
//!     .await?;
//! let pool = Pool::new(raw).with_tracer(tracer);
//! let mut tx = pool.begin().await?; // span `TRANSACTION` with `pool.acquire` and `BEGIN`
//! sqlx::query("UPDATE stock SET n = n - $1 WHERE sku = $2")
//!     .bind(1)
//!     .bind("A-1")
//!     .execute(&mut *tx) // `UPDATE stock`, child of `TRANSACTION`
//!     .await?;
//! tx.commit().await?; // `COMMIT`, then `TRANSACTION` ends
//! # Ok(()) }
//! ```

mod connection;
mod dialect;
mod pool;
pub mod sanitize;
mod span;
mod statements;
mod stream;
mod transaction;

pub use connection::Connection;
pub use dialect::{BoxFuture, Dialect, Endpoint};
pub use pool::Pool;
pub use transaction::{Transaction, TransactionConnection};

use opentelemetry::StringValue;

use crate::Tracer;
use sanitize::Flavor;

/// Settings shared by a pool and every connection and transaction taken from it.
#[derive(Clone, Debug)]
struct Shared {
    tracer: Tracer,
    system: &'static str,
    flavor: Flavor,
    namespace: Option<StringValue>,
    address: Option<StringValue>,
    port: Option<i64>,
    query_text: bool,
    /// Sanitized statements, shared by every clone of the pool.
    statements: std::sync::Arc<statements::Statements>,
}
