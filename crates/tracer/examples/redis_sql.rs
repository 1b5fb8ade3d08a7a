//! Redis + SQL: a cache-aside lookup under one request span. A miss reads MariaDB/MySQL and
//! fills Redis, the next lookup is a hit:
//!
//! ```text
//! catalogue internal lookup app.sku=A-1
//!   catalogue client GET
//!   catalogue internal pool.acquire
//!   catalogue client SELECT example_items
//!   catalogue client SET
//! catalogue internal lookup app.sku=A-1
//!   catalogue client GET
//! ```
//!
//! Needs Redis on 127.0.0.1:6379 and MariaDB/MySQL on 127.0.0.1:3306 (database `test`, user root
//! without password), or `REDIS_URL` / `MYSQL_URL`. Run it next to a collector
//! (`cargo run --release -p tracer-collector`, then http://127.0.0.1:16686, service
//! `catalogue`), or print the spans:
//! `OTEL_TRACES_EXPORTER=console cargo run -p tracer --example redis_sql --features redis,sqlx-mysql`.

use opentelemetry::trace::{FutureExt as _, SpanKind, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};
use redis::AsyncCommands as _;
use tracer::redis::InstrumentedConnection;
use tracer::sql::Pool;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let guard = tracer::builder().service_name("catalogue").init()?;
    let redis_url = std::env::var("REDIS_URL").unwrap_or("redis://127.0.0.1:6379/0".into());
    let mysql_url = std::env::var("MYSQL_URL").unwrap_or("mysql://root@127.0.0.1:3306/test".into());

    let client = redis::Client::open(redis_url.as_str())?;
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| {
            format!("cannot reach Redis at {redis_url} ({e}): start redis-server or set REDIS_URL")
        })?;
    let mut cache = InstrumentedConnection::new(conn, &client);
    let pool: Pool<sqlx::MySql> = Pool::connect(&mysql_url).await.map_err(|e| {
        format!("cannot reach MySQL at {mysql_url} ({e}): start MariaDB or set MYSQL_URL")
    })?;
    // Set-up, untraced: straight through the sqlx pool and the raw connection.
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS example_items (sku VARCHAR(16) PRIMARY KEY, name TEXT)",
    )
    .execute(pool.inner())
    .await?;
    sqlx::query("REPLACE INTO example_items VALUES ('A-1', 'teapot')")
        .execute(pool.inner())
        .await?;
    let _: () = cache.get_mut().del("example:item:A-1").await?;

    for _ in 0..2 {
        let name = lookup(&mut cache, &pool, "A-1").await?;
        println!("A-1 is a {name}");
    }

    guard.shutdown()?; // exports every span before the program exits
    println!("spans exported; see http://127.0.0.1:16686 (service catalogue)");
    Ok(())
}

/// Reads an item's name from Redis, else from SQL (then caches it), inside one span.
async fn lookup(
    cache: &mut InstrumentedConnection<redis::aio::MultiplexedConnection>,
    pool: &Pool<sqlx::MySql>,
    sku: &str,
) -> Result<String, Error> {
    let tracer = tracer::global();
    let attributes = vec![KeyValue::new("app.sku", sku.to_owned())];
    let span = tracer.span("lookup", SpanKind::Internal, attributes, &Context::new());
    let cx = match span {
        Some(span) => Context::new().with_span(span),
        None => Context::new(),
    };
    let work = async {
        let key = format!("example:item:{sku}");
        if let Some(name) = cache.get::<_, Option<String>>(&key).await? {
            return Ok(name);
        }
        let (name,): (String,) = sqlx::query_as("SELECT name FROM example_items WHERE sku = ?")
            .bind(sku)
            .fetch_one(pool)
            .await?;
        let _: () = cache.set(&key, &name).await?;
        Ok(name)
    };
    let result = work.with_context(cx.clone()).await;
    cx.span().end();
    result
}
