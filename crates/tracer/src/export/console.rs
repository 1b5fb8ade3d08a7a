//! The console exporter: one readable line per finished span on stdout.

use std::io::Write;
use std::time::UNIX_EPOCH;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Writes spans to stdout, for development and the examples.
#[derive(Debug, Default)]
pub(crate) struct ConsoleExporter {
    service: String,
}

pub(crate) fn kind_name(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

/// Formats one span as `service kind "name" status duration ids attributes`.
pub(crate) fn format_span(service: &str, span: &SpanData) -> String {
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    let start = span
        .start_time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    let status = match &span.status {
        Status::Unset => "unset".to_owned(),
        Status::Ok => "ok".to_owned(),
        Status::Error { description } if description.is_empty() => "error".to_owned(),
        Status::Error { description } => format!("error({description})"),
    };
    let mut line = format!(
        "{service} {kind} {name:?} {status} {duration:?} trace={trace} span={span_id} parent={parent} start_us={start}",
        kind = kind_name(&span.span_kind),
        name = span.name,
        trace = span.span_context.trace_id(),
        span_id = span.span_context.span_id(),
        parent = span.parent_span_id,
    );
    for kv in &span.attributes {
        line.push_str(&format!(" {}={}", kv.key, kv.value));
    }
    for event in span.events.iter() {
        line.push_str(&format!(" event={:?}", event.name));
    }
    line
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut out = std::io::stdout().lock();
        for span in &batch {
            let _ = writeln!(out, "{}", format_span(&self.service, span));
        }
        let _ = out.flush();
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(name) = resource.get(&opentelemetry::Key::from_static_str("service.name")) {
            self.service = name.to_string();
        }
    }
}
