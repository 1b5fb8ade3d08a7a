//! The smallest tracer program: initialise, make a small tree of nested spans, and print them
//! with the console exporter.
//!
//! ```text
//! cargo run -p tracer --example console
//! ```

use std::time::Duration;

use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use tracer::ExporterKind;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Code settings override OTEL_* variables: this example always prints to stdout.
    let guard = tracer::builder()
        .service_name("console-example")
        .exporter(ExporterKind::Console)
        .init()?;
    let tracer = tracer::global();

    let request = tracer
        .span(
            "GET /orders/{id}",
            SpanKind::Server,
            vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.route", "/orders/{id}"),
            ],
            &Context::new(),
        )
        .expect("tracing is on");
    let cx = Context::new().with_span(request);

    for (step, table) in [("SELECT", "orders"), ("SELECT", "order_items")] {
        let span = tracer.span(
            format!("{step} {table}"),
            SpanKind::Client,
            vec![
                KeyValue::new("db.system.name", "mysql"),
                KeyValue::new("db.collection.name", table),
            ],
            &cx,
        );
        std::thread::sleep(Duration::from_millis(3));
        drop(span);
    }

    let cache = tracer.span(
        "GET",
        SpanKind::Client,
        vec![KeyValue::new("db.system.name", "redis")],
        &cx,
    );
    if let Some(mut cache) = cache {
        use opentelemetry::trace::Span as _;
        cache.set_status(Status::error("connection refused"));
        cache.set_attribute(KeyValue::new("error.type", "refused"));
    }

    cx.span()
        .set_attribute(KeyValue::new("http.response.status_code", 200));
    cx.span().end();

    // Dropping the guard would do the same: every finished span is printed before exit.
    guard.shutdown()?;
    Ok(())
}
