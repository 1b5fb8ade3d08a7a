//! What the Jaeger and Zipkin decoders share on their way into the store's [`SpanBatch`].
//!
//! Foreign formats put the service identity on every span (Zipkin's `localEndpoint`) or on a
//! batch (Jaeger's `Process`), and carry kind, status and instrumentation scope as tags
//! (OpenTracing's `span.kind` and `error`, OpenTelemetry's `otel.status_code` and
//! `otel.scope.*`). Both decoders map one span at a time straight into the batch; this module
//! holds what they must agree on, so a span reads back the same whichever format brought it:
//! - [`kind_from_name`] and [`StatusTags`]: kind and status from tags;
//! - [`Groups`]: one batch resource per service (Zipkin) and one scope per (name, version);
//! - [`push_span`]: the OTLP id rules (a zero trace or span id rejects the span, with the
//!   message the OTLP decoders give), applied to a span whose attributes, events and links are
//!   already in the batch;
//! - [`micros_to_nanos`]: the formats' microsecond times.

use std::collections::HashMap;

use crate::store::batch::{
    KIND_CLIENT, KIND_CONSUMER, KIND_INTERNAL, KIND_PRODUCER, KIND_SERVER, Mark, Resource,
    STATUS_ERROR, STATUS_OK, STATUS_UNSET, Scope, Span, SpanBatch, SpanKind, StatusCode,
};
use crate::vocabulary::{STATUS_CODE_ERROR, STATUS_CODE_OK};

/// The span kind a lowercase OpenTracing/Zipkin kind name stands for.
pub(crate) fn kind_from_name(name: &str) -> Option<SpanKind> {
    const NAMES: [(&str, SpanKind); 5] = [
        ("internal", KIND_INTERNAL),
        ("server", KIND_SERVER),
        ("client", KIND_CLIENT),
        ("producer", KIND_PRODUCER),
        ("consumer", KIND_CONSUMER),
    ];
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, kind)| kind)
}

/// Status set from the tags foreign formats use: `error` (truthy) and OpenTelemetry's
/// `otel.status_code` / `otel.status_description`, which win when present.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StatusTags<'a> {
    /// `error` was set to a true value; the message it carried (empty when it was `true`).
    pub(crate) error: Option<&'a str>,
    /// `otel.status_code`, as sent (compared without regard to case).
    pub(crate) code: Option<&'a str>,
    /// `otel.status_description`.
    pub(crate) description: Option<&'a str>,
}

impl<'a> StatusTags<'a> {
    /// Takes an `error` tag's text: a true value sets the error, its text the message unless
    /// it is just `true`.
    pub(crate) fn error_text(&mut self, text: &'a str) {
        if error_text_is_true(text) {
            self.error = Some(if text == "true" { "" } else { text });
        }
    }

    /// The status code and message these tags describe (unset and empty when none).
    pub(crate) fn status(self) -> (StatusCode, &'a str) {
        let code = match self.code {
            Some(c) if c.eq_ignore_ascii_case(STATUS_CODE_OK) => STATUS_OK,
            Some(c) if c.eq_ignore_ascii_case(STATUS_CODE_ERROR) => STATUS_ERROR,
            _ if self.error.is_some() => STATUS_ERROR,
            _ => return (STATUS_UNSET, ""),
        };
        if code == STATUS_ERROR {
            (code, self.description.or(self.error).unwrap_or_default())
        } else {
            (code, "")
        }
    }
}

/// Whether an `error` tag's text value means "this span failed" (anything but `false`/`0`).
pub(crate) fn error_text_is_true(value: &str) -> bool {
    let value = value.trim();
    !(value.eq_ignore_ascii_case("false") || value == "0")
}

/// Microseconds since the epoch (as foreign formats send them) to nanoseconds, clamped at
/// zero for negative values and at `u64::MAX` for absurdly large ones.
pub(crate) fn micros_to_nanos(micros: i64) -> u64 {
    u64::try_from(micros).unwrap_or(0).saturating_mul(1000)
}

/// Resources and scopes of a batch being filled, each pushed once: resources by service name
/// (the formats whose resource is just `service.name`), scopes by (name, version).
#[derive(Debug, Default)]
pub(crate) struct Groups<'a> {
    services: HashMap<&'a str, u32>,
    scopes: HashMap<(&'a str, &'a str), u32>,
    /// The scope asked for last: consecutive spans almost always share it.
    last_scope: Option<((&'a str, &'a str), u32)>,
}

impl<'a> Groups<'a> {
    /// The index of the resource of `service` (attributes: `service.name` only), pushed onto
    /// the batch the first time.
    pub(crate) fn service(&mut self, batch: &mut SpanBatch<'a>, service: &'a str) -> u32 {
        if let Some(&i) = self.services.get(service) {
            return i;
        }
        let i = push_service(batch, service);
        self.services.insert(service, i);
        i
    }

    /// The index of the scope (`name`, `version`; empty for none), pushed onto the batch the
    /// first time.
    pub(crate) fn scope(
        &mut self,
        batch: &mut SpanBatch<'a>,
        name: &'a str,
        version: &'a str,
    ) -> u32 {
        if let Some((key, i)) = self.last_scope
            && key == (name, version)
        {
            return i;
        }
        let i = *self.scopes.entry((name, version)).or_insert_with(|| {
            batch.scopes.push(Scope {
                name,
                version,
                ..Scope::default()
            });
            (batch.scopes.len() - 1) as u32
        });
        self.last_scope = Some(((name, version), i));
        i
    }
}

/// Pushes a resource whose only attribute is `service.name`; its index.
fn push_service<'a>(batch: &mut SpanBatch<'a>, service: &'a str) -> u32 {
    let start = batch.attributes.len();
    batch.attributes.push(crate::store::batch::KeyValue {
        key: crate::vocabulary::SERVICE_NAME,
        value: crate::store::batch::AnyValue::Str(service),
    });
    let attributes = batch.attributes_since(start);
    batch.resources.push(Resource {
        service,
        attributes,
        dropped_attributes: 0,
    });
    (batch.resources.len() - 1) as u32
}

/// Pushes `span`, whose attributes, events and links were pushed since `mark`, or rejects it
/// (forgetting what it pushed) when its trace or span id is zero, as the OTLP decoders do.
pub(crate) fn push_span<'a>(batch: &mut SpanBatch<'a>, mark: Mark, span: Span<'a>) {
    let problem = if span.trace_id == 0 {
        Some("trace_id is all zeros")
    } else if span.span_id == 0 {
        Some("span_id is all zeros")
    } else {
        None
    };
    match problem {
        None => batch.spans.push(span),
        Some(problem) => {
            batch.rewind(mark);
            batch.reject(span.name, problem);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_tags_follow_otel_first_then_error() {
        let mut s = StatusTags::default();
        s.error_text("boom");
        assert_eq!(s.status(), (STATUS_ERROR, "boom"));
        let s = StatusTags {
            error: Some("x"),
            code: Some("error"),
            description: Some("why"),
        };
        assert_eq!(s.status(), (STATUS_ERROR, "why"));
        let s = StatusTags {
            code: Some("OK"),
            ..Default::default()
        };
        assert_eq!(s.status(), (STATUS_OK, ""));
        assert_eq!(StatusTags::default().status(), (STATUS_UNSET, ""));
        assert!(
            !error_text_is_true("false") && !error_text_is_true(" 0") && error_text_is_true("true")
        );
    }

    #[test]
    fn groups_push_each_service_and_scope_once_in_first_seen_order() {
        let mut batch = SpanBatch::new();
        let mut g = Groups::default();
        assert_eq!(g.service(&mut batch, "a"), 0);
        assert_eq!(g.service(&mut batch, "z"), 1);
        assert_eq!(g.service(&mut batch, "a"), 0);
        assert_eq!(g.scope(&mut batch, "s", "1"), 0);
        assert_eq!(g.scope(&mut batch, "", ""), 1);
        assert_eq!(g.scope(&mut batch, "s", "1"), 0);
        assert_eq!((batch.resources.len(), batch.scopes.len()), (2, 2));
        assert_eq!(batch.resources[1].service, "z");
    }

    #[test]
    fn a_span_with_a_zero_id_is_rejected_and_forgotten() {
        let mut batch = SpanBatch::new();
        let mark = batch.mark();
        batch.attributes.push(crate::store::batch::KeyValue {
            key: "k",
            value: crate::store::batch::AnyValue::Int(1),
        });
        let span = Span {
            trace_id: 0,
            span_id: 1,
            name: "op",
            ..Span::default()
        };
        push_span(&mut batch, mark, span);
        assert!(batch.spans.is_empty() && batch.attributes.is_empty());
        assert_eq!(
            batch.first_error.as_deref(),
            Some("span \"op\": trace_id is all zeros")
        );
    }
}
