//! Shared helpers for the Redis and SQL tests: reaching the real servers on this machine,
//! unique names so tests run in parallel, and a root span to parent the client spans.
// Each test binary uses a different part of this module.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, TraceContextExt as _};
use tracer::Tracer;

/// A name unique to this process and call: `{prefix}_{pid}_{nanos}_{n}`.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{nanos}_{n}", std::process::id())
}

/// Runs `future` with an INTERNAL span `name` of `tracer` current, as a request handler would.
pub async fn in_span<F: Future>(tracer: &Tracer, name: &'static str, future: F) -> F::Output {
    let span = tracer
        .span(name, SpanKind::Internal, vec![], &Context::new())
        .expect("the test tracer is on");
    let cx = Context::new().with_span(span);
    let out = future.with_context(cx.clone()).await;
    cx.span().end();
    out
}

/// Panics when any of `spans` records any of `needles` (name, attributes, events, status).
pub fn assert_never_recorded(spans: &[tracer::testing::CapturedSpan], needles: &[&str]) {
    assert!(!spans.is_empty(), "no spans recorded: nothing was scanned");
    for span in spans {
        let text = span.all_text();
        for needle in needles {
            assert!(
                !text.contains(needle),
                "span `{}` records `{needle}`:\n{text}",
                span.name()
            );
        }
    }
}

#[cfg(feature = "redis")]
pub mod redis_server {
    //! The real Redis at 127.0.0.1:6379.

    /// Where the tests expect Redis.
    pub const URL: &str = "redis://127.0.0.1:6379/0";

    /// A client and a multiplexed connection to the real Redis.
    ///
    /// # Panics
    /// When Redis is not reachable, saying how to start it.
    pub async fn connect() -> (redis::Client, redis::aio::MultiplexedConnection) {
        let client = redis::Client::open(URL).expect("valid redis url");
        match client.get_multiplexed_async_connection().await {
            Ok(conn) => (client, conn),
            Err(e) => panic!(
                "redis not reachable at 127.0.0.1:6379 ({e}): start it with \
                 `redis-server --daemonize yes --bind 127.0.0.1 --port 6379`"
            ),
        }
    }
}

#[cfg(feature = "sqlx-mysql")]
pub mod mariadb {
    //! The real MariaDB (MySQL protocol) at 127.0.0.1:3306.

    /// Where the tests expect MariaDB: user root, empty password, database `test`.
    pub const URL: &str = "mysql://root@127.0.0.1:3306/test";

    /// A sqlx pool of at most `max` connections to the real MariaDB.
    ///
    /// # Panics
    /// When MariaDB is not reachable, saying how to start it.
    pub async fn pool(max: u32) -> sqlx::MySqlPool {
        let connected = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(max)
            .connect(URL)
            .await;
        match connected {
            Ok(pool) => pool,
            Err(e) => panic!(
                "mariadb not reachable at {URL} ({e}): start it with `service mariadb start` \
                 (root without password, database `test`)"
            ),
        }
    }
}

#[cfg(feature = "sqlx-postgres")]
pub mod postgres {
    //! The real PostgreSQL at 127.0.0.1:5432.

    /// Where the tests expect PostgreSQL: user postgres (trust), database `test`.
    pub const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

    /// A sqlx pool of at most `max` connections to the real PostgreSQL.
    ///
    /// # Panics
    /// When PostgreSQL is not reachable, saying how to start it.
    pub async fn pool(max: u32) -> sqlx::PgPool {
        let connected = sqlx::postgres::PgPoolOptions::new()
            .max_connections(max)
            .connect(URL)
            .await;
        match connected {
            Ok(pool) => pool,
            Err(e) => panic!(
                "postgresql not reachable at {URL} ({e}): start it with `service postgresql \
                 start` (user postgres with trust auth, database `test`)"
            ),
        }
    }
}
