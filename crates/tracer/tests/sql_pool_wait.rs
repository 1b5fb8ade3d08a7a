//! Waiting for a pooled connection is a `pool.acquire` span: with a pool of one connection and
//! three concurrent queries the waits are long and the queries serialised; a wait that runs out
//! is a red `pool.acquire` span with `error.type=pool_timed_out`.
#![cfg(all(feature = "sqlx-mysql", feature = "testing"))]

mod support_data;

use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, TraceContextExt as _};
use support_data::{in_span, mariadb};
use tracer::Tracer;
use tracer::sql::Pool;
use tracer::testing::{CapturedSpan, SpanCapture, TreeFormat, assert_tree};

fn duration(span: &CapturedSpan) -> Duration {
    span.data
        .end_time
        .duration_since(span.data.start_time)
        .unwrap_or_default()
}

/// Runs `SELECT SLEEP(0.2)` in an INTERNAL `job` span started now, under the current span.
fn job(tracer: &Tracer, pool: &Pool<sqlx::MySql>) -> impl Future<Output = ()> + use<> {
    let span = tracer
        .span("job", SpanKind::Internal, vec![], &Context::current())
        .unwrap();
    let cx = Context::current().with_span(span);
    let pool = pool.clone();
    let done = cx.clone();
    async move {
        sqlx::query("SELECT SLEEP(0.2)")
            .execute(&pool)
            .with_context(cx)
            .await
            .unwrap();
        done.span().end();
    }
}

#[tokio::test]
async fn exhausted_pool_shows_as_long_acquire_spans() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let pool = Pool::new(mariadb::pool(1).await).with_tracer(tracer.clone());

    in_span(&tracer, "handler", async {
        // Jobs start one after the other (so the tree order is fixed), then run together.
        let (a, b, c) = (
            job(&tracer, &pool),
            job(&tracer, &pool),
            job(&tracer, &pool),
        );
        tokio::join!(a, b, c);
    })
    .await;

    assert_tree(
        &capture.render(&TreeFormat::new()),
        "
        app internal handler
          app internal job
            app internal pool.acquire
            app client SELECT
          app internal job
            app internal pool.acquire
            app client SELECT
          app internal job
            app internal pool.acquire
            app client SELECT
        ",
    );
    // One connection, three 200 ms queries: the second waits about 200 ms, the third 400 ms.
    let mut waits: Vec<Duration> = capture
        .spans()
        .iter()
        .filter(|s| s.name() == "pool.acquire")
        .map(duration)
        .collect();
    waits.sort();
    assert!(waits[1] >= Duration::from_millis(150), "{waits:?}");
    assert!(waits[2] >= Duration::from_millis(350), "{waits:?}");
    // The queries themselves ran one after the other, each about as long as its sleep.
    let mut queries: Vec<&CapturedSpan> = Vec::new();
    let spans = capture.spans();
    queries.extend(spans.iter().filter(|s| s.name() == "SELECT"));
    queries.sort_by_key(|s| s.data.start_time);
    for pair in queries.windows(2) {
        assert!(
            pair[1].data.start_time >= pair[0].data.end_time,
            "serialised"
        );
    }
}

#[tokio::test]
async fn acquire_timeout_is_a_red_acquire_span() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let raw = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(200))
        .connect(mariadb::URL)
        .await
        .unwrap_or_else(|e| panic!("mariadb not reachable at {} ({e})", mariadb::URL));
    let pool = Pool::new(raw).with_tracer(tracer.clone());

    let err = in_span(&tracer, "handler", async {
        let _held = pool.acquire().await.unwrap();
        sqlx::query("SELECT 1").execute(&pool).await.unwrap_err()
    })
    .await;
    assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err:?}");

    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["error.type"])),
        "
        app internal handler
          app internal pool.acquire
          app internal pool.acquire !error error.type=pool_timed_out
        ",
    );
}
