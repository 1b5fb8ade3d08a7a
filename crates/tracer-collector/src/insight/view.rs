//! The trace as the insight tools read it: plain owned spans with the few attributes they look
//! at, taken out of the store ([`TraceView::from_stored`]) or built by hand in tests.
//!
//! A [`TraceView`] knows no wire format: it is made from the store's own records (interned
//! names, packed attributes), never from Jaeger JSON or OTLP, and it keeps only the attributes
//! listed in [`KEPT_ATTRIBUTES`], so its size is bounded by the trace's span count.
//!
//! ```
//! use tracer_collector::insight::view::{TraceView, ViewSpan};
//!
//! let root = ViewSpan::new(1, 0, "shop", "GET /cart").timing(0, 10_000_000);
//! let query = ViewSpan::new(2, 1, "shop", "SELECT carts")
//!     .client()
//!     .timing(1_000_000, 2_000_000)
//!     .attribute("db.system.name", "mysql");
//! let trace = TraceView::new(7, vec![root, query]);
//! assert_eq!(trace.children(0), [1]);
//! assert_eq!(trace.label(1), "shop SELECT carts");
//! ```

use std::collections::HashMap;

use opentelemetry_semantic_conventions::attribute as semconv;

use crate::store::batch::{KIND_CLIENT, KIND_PRODUCER, STATUS_ERROR, SpanKind};
use crate::store::{Store, StoredTrace, Value};

/// The attributes a [`TraceView`] keeps; the others are not read by any rule.
pub const KEPT_ATTRIBUTES: &[&str] = &[
    semconv::DB_SYSTEM_NAME,
    semconv::DB_QUERY_TEXT,
    semconv::DB_OPERATION_NAME,
    semconv::DB_COLLECTION_NAME,
    semconv::DB_NAMESPACE,
    semconv::DB_RESPONSE_STATUS_CODE,
    semconv::HTTP_REQUEST_METHOD,
    semconv::HTTP_REQUEST_RESEND_COUNT,
    semconv::HTTP_RESPONSE_STATUS_CODE,
    semconv::HTTP_ROUTE,
    semconv::URL_FULL,
    semconv::URL_PATH,
    semconv::RPC_METHOD,
    semconv::RPC_RESPONSE_STATUS_CODE,
    semconv::SERVER_ADDRESS,
    semconv::SERVER_PORT,
    semconv::ERROR_TYPE,
    semconv::MESSAGING_DESTINATION_NAME,
];

/// Longest attribute value kept, in bytes (cut at a character boundary).
pub const MAX_VALUE_BYTES: usize = 512;

/// One span of a [`TraceView`].
#[derive(Debug, Clone, PartialEq)]
pub struct ViewSpan {
    /// Span id.
    pub span_id: u64,
    /// Parent span id; 0 for a root.
    pub parent_id: u64,
    /// Service name.
    pub service: String,
    /// Operation (span name).
    pub name: String,
    /// Span kind (`crate::store::batch::KIND_*`).
    pub kind: SpanKind,
    /// Start, in Unix nanoseconds.
    pub start_ns: u64,
    /// Duration, in nanoseconds.
    pub duration_ns: u64,
    /// Whether the status is an error.
    pub error: bool,
    /// The status message, if any.
    pub status_message: String,
    /// The kept attributes ([`KEPT_ATTRIBUTES`]), values as text.
    pub attributes: Vec<(String, String)>,
}

impl ViewSpan {
    /// An internal span of `service` named `name`, starting at 0 and lasting 0 ns.
    pub fn new(span_id: u64, parent_id: u64, service: &str, name: &str) -> Self {
        ViewSpan {
            span_id,
            parent_id,
            service: service.to_owned(),
            name: name.to_owned(),
            kind: crate::store::batch::KIND_INTERNAL,
            start_ns: 0,
            duration_ns: 0,
            error: false,
            status_message: String::new(),
            attributes: Vec::new(),
        }
    }

    /// Sets the start and duration, in nanoseconds.
    #[must_use]
    pub fn timing(mut self, start_ns: u64, duration_ns: u64) -> Self {
        self.start_ns = start_ns;
        self.duration_ns = duration_ns;
        self
    }

    /// Makes it a client span.
    #[must_use]
    pub fn client(mut self) -> Self {
        self.kind = KIND_CLIENT;
        self
    }

    /// Sets the span kind.
    #[must_use]
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Marks the status an error.
    #[must_use]
    pub fn failed(mut self) -> Self {
        self.error = true;
        self
    }

    /// Adds an attribute.
    #[must_use]
    pub fn attribute(mut self, key: &str, value: impl ToString) -> Self {
        self.attributes.push((key.to_owned(), value.to_string()));
        self
    }

    /// End, in Unix nanoseconds.
    pub fn end_ns(&self) -> u64 {
        self.start_ns.saturating_add(self.duration_ns)
    }

    /// The value of attribute `key`.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether it is a call to something else (a client or producer span).
    pub fn is_call(&self) -> bool {
        self.kind == KIND_CLIENT || self.kind == KIND_PRODUCER
    }

    /// The database system, for a database call.
    pub fn db_system(&self) -> Option<&str> {
        self.attr(semconv::DB_SYSTEM_NAME).filter(|s| !s.is_empty())
    }

    /// Whether the span reports a failed outcome, red or not: an error status, an
    /// `error.type`, an HTTP status of 400 or more, or a gRPC status other than OK.
    pub fn failing(&self) -> bool {
        self.error
            || self.attr(semconv::ERROR_TYPE).is_some()
            || self
                .attr(semconv::HTTP_RESPONSE_STATUS_CODE)
                .and_then(|s| s.parse::<u16>().ok())
                .is_some_and(|c| c >= 400)
            || self
                .attr(semconv::RPC_RESPONSE_STATUS_CODE)
                .is_some_and(|s| s != "OK" && s != "0")
    }

    /// A short description of the failure: `error.type`, else the status code, else the
    /// status message, else `error`.
    pub fn failure(&self) -> String {
        if let Some(t) = self.attr(semconv::ERROR_TYPE) {
            return format!("error.type={t}");
        }
        for key in [
            semconv::HTTP_RESPONSE_STATUS_CODE,
            semconv::RPC_RESPONSE_STATUS_CODE,
            semconv::DB_RESPONSE_STATUS_CODE,
        ] {
            if let Some(v) = self.attr(key) {
                return format!("{key}={v}");
            }
        }
        if !self.status_message.is_empty() {
            return format!("status {:?}", clip(&self.status_message, 80));
        }
        "error".to_owned()
    }
}

/// A trace for the insight tools: its spans and, per span, its children in start order.
#[derive(Debug, Clone)]
pub struct TraceView {
    /// The trace id.
    pub trace_id: u128,
    /// The spans, in no particular order.
    pub spans: Vec<ViewSpan>,
    children: Vec<Vec<usize>>,
    roots: Vec<usize>,
    parents: Vec<Option<usize>>,
}

impl TraceView {
    /// A trace of these spans. A span whose parent is not in the trace counts as a root;
    /// a span listed twice is kept once (the first).
    pub fn new(trace_id: u128, mut spans: Vec<ViewSpan>) -> Self {
        let mut seen = std::collections::HashSet::with_capacity(spans.len());
        spans.retain(|s| seen.insert(s.span_id));
        let index: HashMap<u64, usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id, i))
            .collect();
        let mut children = vec![Vec::new(); spans.len()];
        let mut parents = vec![None; spans.len()];
        let mut roots = Vec::new();
        for (i, span) in spans.iter().enumerate() {
            match index.get(&span.parent_id).filter(|&&p| p != i) {
                Some(&p) if span.parent_id != 0 => {
                    children[p].push(i);
                    parents[i] = Some(p);
                }
                _ => roots.push(i),
            }
        }
        let key = |&i: &usize| (spans[i].start_ns, spans[i].span_id);
        for list in &mut children {
            list.sort_by_key(key);
        }
        roots.sort_by_key(key);
        let mut view = TraceView {
            trace_id,
            spans,
            children,
            roots,
            parents,
        };
        view.break_cycles();
        view
    }

    /// Parent links that form a cycle (a span that is its own ancestor) are cut, so every walk
    /// ends: the span where the walk came back becomes a root.
    fn break_cycles(&mut self) {
        let n = self.spans.len();
        // 0 unvisited, 1 on the current chain, 2 done.
        let mut state = vec![0u8; n];
        for start in 0..n {
            let mut chain = Vec::new();
            let mut at = Some(start);
            while let Some(i) = at {
                match state[i] {
                    2 => break,
                    1 => {
                        // `i` closes a cycle: cut its parent link.
                        if let Some(p) = self.parents[i].take() {
                            self.children[p].retain(|&c| c != i);
                            self.roots.push(i);
                        }
                        break;
                    }
                    _ => {
                        state[i] = 1;
                        chain.push(i);
                        at = self.parents[i];
                    }
                }
            }
            for i in chain {
                state[i] = 2;
            }
        }
    }

    /// Takes the spans of a stored trace out of the store.
    pub fn from_stored(store: &Store, trace: &StoredTrace) -> Self {
        let names = store.interner.reader();
        let values = store.values.reader();
        let values = values.resolver();
        let spans = trace
            .spans()
            .map(|record| {
                let mut attributes = Vec::new();
                for (key, value) in record.attributes(values) {
                    let key = names.get(key);
                    if KEPT_ATTRIBUTES.contains(&key) {
                        attributes.push((key.to_owned(), value_text(value)));
                    }
                }
                let status_message = if record.status == STATUS_ERROR {
                    clip(record.detail(values).status_message, MAX_VALUE_BYTES).to_owned()
                } else {
                    String::new()
                };
                ViewSpan {
                    span_id: record.span_id,
                    parent_id: record.parent_span_id,
                    service: names.get(record.service).to_owned(),
                    name: names.get(record.name).to_owned(),
                    kind: record.kind,
                    start_ns: record.start_ns,
                    duration_ns: record.duration_ns(),
                    error: record.status == STATUS_ERROR,
                    status_message,
                    attributes,
                }
            })
            .collect();
        TraceView::new(trace.trace_id, spans)
    }

    /// Children of span `i`, in start order.
    pub fn children(&self, i: usize) -> &[usize] {
        self.children.get(i).map_or(&[], Vec::as_slice)
    }

    /// The parent of span `i`, if it is in the trace.
    pub fn parent(&self, i: usize) -> Option<usize> {
        self.parents.get(i).copied().flatten()
    }

    /// The roots, in start order.
    pub fn roots(&self) -> &[usize] {
        &self.roots
    }

    /// `service name` of span `i`.
    pub fn label(&self, i: usize) -> String {
        let s = &self.spans[i];
        format!("{} {}", s.service, s.name)
    }

    /// Span id of span `i` as 16 hex digits.
    pub fn id_hex(&self, i: usize) -> String {
        crate::query::convert::span_id_hex(self.spans[i].span_id)
    }

    /// Earliest start and latest end over all spans (0, 0 when empty).
    pub fn bounds(&self) -> (u64, u64) {
        let start = self.spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
        let end = self.spans.iter().map(ViewSpan::end_ns).max().unwrap_or(0);
        (start, end)
    }

    /// Span indexes in depth-first order (children in start order), with their depth.
    pub fn walk(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::with_capacity(self.spans.len());
        let mut stack: Vec<(usize, usize)> = self.roots.iter().rev().map(|&r| (r, 0)).collect();
        while let Some((i, depth)) = stack.pop() {
            out.push((i, depth));
            for &k in self.children(i).iter().rev() {
                stack.push((k, depth + 1));
            }
        }
        out
    }
}

fn value_text(value: Value<'_>) -> String {
    match value {
        Value::Str(s) => clip(s, MAX_VALUE_BYTES).to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Bytes(_) | Value::Complex(_) => String::new(),
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
pub(crate) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parent_cycle_is_cut_so_walks_end() {
        let a = ViewSpan::new(1, 2, "s", "a");
        let b = ViewSpan::new(2, 1, "s", "b");
        let t = TraceView::new(1, vec![a, b]);
        assert_eq!(t.walk().len(), 2);
        assert_eq!(t.roots().len(), 1);
    }

    #[test]
    fn failing_reads_status_codes_as_well_as_the_error_flag() {
        let ok = ViewSpan::new(1, 0, "s", "a").attribute("http.response.status_code", 200);
        let not_found = ViewSpan::new(1, 0, "s", "a").attribute("http.response.status_code", 404);
        let grpc = ViewSpan::new(1, 0, "s", "a").attribute("rpc.response.status_code", "NOT_FOUND");
        assert!(!ok.failing());
        assert!(not_found.failing());
        assert!(grpc.failing());
        assert_eq!(grpc.failure(), "rpc.response.status_code=NOT_FOUND");
    }
}
