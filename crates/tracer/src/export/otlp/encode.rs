//! OTLP protobuf written straight from the queued spans: an `ExportTraceServiceRequest`
//! (`opentelemetry/proto/collector/trace/v1/trace_service.proto`, with `trace/v1/trace.proto`,
//! `common/v1/common.proto` and `resource/v1/resource.proto` of the OTLP 1.x protocol that
//! opentelemetry-proto 0.33 generates) in one reused buffer.
//!
//! The crate path is `SpanRecord` → `SpanData` → opentelemetry-proto's message structs (a
//! `Vec<u8>` for every id, a `String` for every name, key and string value, a `Vec` per
//! attribute list) → prost's encoder, which walks the structs twice (lengths, then bytes). Here
//! the request is written in one pass from the records as they sit in the queue: no message
//! structs, no allocation per span (the buffer and two small scratch vectors live as long as
//! the exporter; a non-empty `tracestate` is written entry by entry, without its header
//! string). A nested message's length is not known before its body is written, so one byte
//! (two for a span, three for the outer two) is reserved for it and the body is moved when the length needs more
//! ([`Writer::end`]): a `memmove` of the span, far cheaper than prost's second walk.
//!
//! What the request holds is exactly what opentelemetry-proto's `transform` makes of the same
//! spans (`group_spans_by_resource_and_scope`): the resource once, spans grouped by
//! instrumentation scope in order of first appearance (tracer's own spans have scope
//! `tracer`; SDK spans keep theirs), ids, `tracestate`, parent id (absent for a root), flags
//! with the "has is-remote" bit (0x100) and the "is remote" bit (0x200) of the parent (for a
//! link, of the linked context), name, kind, times, attributes of every value type (arrays
//! too), dropped counts, events, links and status. The unit tests decode our bytes with
//! opentelemetry-proto's prost types and compare them with its `transform` of the same
//! `SpanData` (`tests` below).
//!
//! # Why hand-written: the measured gain
//!
//! Instructions per span under callgrind (`benches/callgrind.rs`, `export/<ours|sdk>/<grpc|http>`:
//! tracer's own server spans with five attributes of three types, one in four with an event,
//! exported in batches of 512 to a null receiver on 127.0.0.1; the difference between a run of
//! 2,560 and one of 512 spans, over 2,048, so the connection's set-up is left out; both paths
//! in the same binary and session):
//!
//! | per span | crate path (opentelemetry-otlp 0.33) | here | ratio |
//! |---|---|---|---|
//! | queued spans → request bytes (HTTP run: `to_span_data` + `build_trace_export_body` against `direct::prepare`) | 14,393 | 3,200 | **4.50x fewer** |
//! | of which writing the request (`Encoder::encode`; most of the rest frees the records) | | 2,042 | |
//! | export thread in all, http/protobuf (`Worker::send_batch`) | 14,782 | 3,376 | 0.23x |
//! | export thread in all, grpc (`Worker::send_batch`) | 19,940 | 3,496–3,635 | 0.18x |
//!
//! The crate path's cost is the conversion to the proto structs and its allocations (38 % in
//! `malloc`/`free`/`realloc`), prost's sizing walk, and over gRPC a clone of the whole batch per attempt.
//! `Encoder::encode` calls no allocator in those runs. The gain is above the 3x the project asks
//! before replacing a crate's work. Commands and load: `docs/BENCHMARKS.md`, "OTLP encoded on
//! the export thread (issue 17 stage 2)".

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

use crate::export::queue::Finished;
use crate::span::record::SpanRecord;

/// A request buffer grown beyond this (a batch of very large spans) is released before the next
/// batch rather than kept: memory held between batches stays bounded.
const RETAINED_MAX: usize = 4 << 20;

/// Protobuf wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// `SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK` and `..._IS_REMOTE_MASK` (trace.proto).
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

/// A protobuf writer over a `Vec<u8>` with nested length-delimited messages.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    #[inline]
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.buf.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.buf.push(value as u8);
    }

    #[inline]
    fn key(&mut self, field: u32, wire: u32) {
        self.varint(u64::from((field << 3) | wire));
    }

    #[inline]
    fn uint(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.key(field, VARINT);
            self.varint(value);
        }
    }

    #[inline]
    fn fixed64(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.key(field, FIXED64);
            self.buf.extend_from_slice(&value.to_le_bytes());
        }
    }

    #[inline]
    fn fixed32(&mut self, field: u32, value: u32) {
        if value != 0 {
            self.key(field, FIXED32);
            self.buf.extend_from_slice(&value.to_le_bytes());
        }
    }

    /// A `bytes` or `string` field, left out when empty (proto3 default).
    #[inline]
    fn bytes(&mut self, field: u32, value: &[u8]) {
        if !value.is_empty() {
            self.bytes_always(field, value);
        }
    }

    /// A `bytes` or `string` field written even when empty (a member of a `oneof`).
    #[inline]
    fn bytes_always(&mut self, field: u32, value: &[u8]) {
        self.key(field, LEN);
        self.varint(value.len() as u64);
        self.buf.extend_from_slice(value);
    }

    /// Starts a length-delimited field with `reserve` bytes kept for its length; returns where
    /// the body starts, for [`Writer::end`].
    #[inline]
    fn begin(&mut self, field: u32, reserve: usize) -> (usize, usize) {
        self.key(field, LEN);
        let at = self.buf.len();
        self.buf.resize(at + reserve, 0);
        (at + reserve, reserve)
    }

    /// Writes the length of the message begun at `start`, moving its body when the length
    /// takes more (or fewer) bytes than were reserved.
    #[inline]
    fn end(&mut self, (start, reserved): (usize, usize)) {
        let len = self.buf.len() - start;
        let needed = varint_len(len as u64);
        if needed != reserved {
            if needed > reserved {
                let extra = needed - reserved;
                self.buf.resize(self.buf.len() + extra, 0);
                self.buf.copy_within(start..start + len, start + extra);
            } else {
                let less = reserved - needed;
                self.buf.copy_within(start..start + len, start - less);
                self.buf.truncate(self.buf.len() - less);
            }
        }
        let mut at = start - reserved;
        let mut value = len as u64;
        while value >= 0x80 {
            self.buf[at] = (value as u8) | 0x80;
            value >>= 7;
            at += 1;
        }
        self.buf[at] = value as u8;
    }

    /// `opentelemetry.proto.common.v1.KeyValue` as field `field`. A string or scalar value's
    /// encoded size is known before it is written, so both lengths go first and nothing is
    /// reserved or moved (the common case: ~2x fewer instructions than `begin`/`end`);
    /// arrays and other values take the general path.
    fn key_value(&mut self, field: u32, kv: &KeyValue) {
        let value_len = match &kv.value {
            Value::String(s) => {
                let n = s.as_str().len();
                1 + varint_len(n as u64) + n
            }
            Value::Bool(_) => 2,
            Value::I64(i) => 1 + varint_len(*i as u64),
            Value::F64(_) => 9,
            _ => return self.key_value_nested(field, kv),
        };
        let key = kv.key.as_str().as_bytes();
        let key_len = if key.is_empty() {
            0
        } else {
            1 + varint_len(key.len() as u64) + key.len()
        };
        self.key(field, LEN);
        self.varint((key_len + 1 + varint_len(value_len as u64) + value_len) as u64);
        self.bytes(1, key);
        self.key(2, LEN);
        self.varint(value_len as u64);
        self.any_value(&kv.value);
    }

    /// [`Writer::key_value`] for values whose size is only known once written.
    fn key_value_nested(&mut self, field: u32, kv: &KeyValue) {
        let at = self.begin(field, 1);
        self.bytes(1, kv.key.as_str().as_bytes());
        let value = self.begin(2, 1);
        self.any_value(&kv.value);
        self.end(value);
        self.end(at);
    }

    fn attributes(&mut self, field: u32, attributes: &[KeyValue]) {
        for kv in attributes {
            self.key_value(field, kv);
        }
    }

    /// The body of an `AnyValue`: the `oneof` member for `value`. A value type that
    /// opentelemetry adds after 0.33 is written as an empty `AnyValue` rather than a panic.
    fn any_value(&mut self, value: &Value) {
        match value {
            Value::String(s) => self.bytes_always(1, s.as_str().as_bytes()),
            Value::Bool(b) => {
                self.key(2, VARINT);
                self.varint(u64::from(*b));
            }
            Value::I64(i) => {
                self.key(3, VARINT);
                self.varint(*i as u64);
            }
            Value::F64(f) => {
                self.key(4, FIXED64);
                self.buf.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            Value::Array(array) => {
                let at = self.begin(5, 1);
                match array {
                    Array::Bool(values) => self.array(values, |v| Value::Bool(*v)),
                    Array::I64(values) => self.array(values, |v| Value::I64(*v)),
                    Array::F64(values) => self.array(values, |v| Value::F64(*v)),
                    Array::String(values) => {
                        for s in values {
                            let item = self.begin(1, 1);
                            self.bytes_always(1, s.as_str().as_bytes());
                            self.end(item);
                        }
                    }
                    _ => {}
                }
                self.end(at);
            }
            _ => {}
        }
    }

    /// The `values` of an `ArrayValue` of scalars.
    #[inline]
    fn array<T>(&mut self, values: &[T], to_value: impl Fn(&T) -> Value) {
        for v in values {
            let item = self.begin(1, 1);
            self.any_value(&to_value(v));
            self.end(item);
        }
    }

    /// A `tracestate` as its header (`k1=v1,k2=v2`), written without building the header.
    fn trace_state(&mut self, field: u32, state: &TraceState) {
        if *state == TraceState::NONE {
            return;
        }
        let mut len = 0;
        for (i, (k, v)) in state.into_iter().enumerate() {
            len += usize::from(i > 0) + k.len() + 1 + v.len();
        }
        if len == 0 {
            return;
        }
        self.key(field, LEN);
        self.varint(len as u64);
        for (i, (k, v)) in state.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            self.buf.extend_from_slice(k.as_bytes());
            self.buf.push(b'=');
            self.buf.extend_from_slice(v.as_bytes());
        }
    }

    /// `InstrumentationScope` as field 1 of a `ScopeSpans` (name, version, attributes).
    fn scope(&mut self, scope: &InstrumentationScope) {
        let at = self.begin(1, 1);
        self.bytes(1, scope.name().as_bytes());
        self.bytes(2, scope.version().unwrap_or_default().as_bytes());
        for kv in scope.attributes() {
            self.key_value(3, kv);
        }
        self.end(at);
    }

    /// One `Span` as field 2 of a `ScopeSpans`.
    fn span(&mut self, span: &View<'_>) {
        let at = self.begin(2, 2);
        let context = span.context;
        self.bytes(1, &context.trace_id().to_bytes());
        self.bytes(2, &context.span_id().to_bytes());
        self.trace_state(3, context.trace_state());
        if span.parent_span_id != SpanId::INVALID {
            self.bytes(4, &span.parent_span_id.to_bytes());
        }
        self.bytes(5, span.name.as_bytes());
        self.uint(6, kind(span.kind));
        self.fixed64(7, nanos(span.start));
        self.fixed64(8, nanos(span.end));
        self.attributes(9, span.attributes);
        self.uint(10, u64::from(span.dropped_attributes));
        for event in span.events {
            self.event(event);
        }
        self.uint(12, u64::from(span.dropped_events));
        for link in span.links {
            self.link(link);
        }
        self.uint(14, u64::from(span.dropped_links));
        let status = self.begin(15, 1);
        match span.status {
            Status::Unset => {}
            Status::Ok => self.uint(3, 1),
            Status::Error { description } => {
                self.bytes(2, description.as_bytes());
                self.uint(3, 2);
            }
        }
        self.end(status);
        self.fixed32(
            16,
            flags(span.parent_is_remote, context.trace_flags().to_u8()),
        );
        self.end(at);
    }

    fn event(&mut self, event: &Event) {
        let at = self.begin(11, 1);
        self.fixed64(1, nanos(event.timestamp));
        self.bytes(2, event.name.as_bytes());
        self.attributes(3, &event.attributes);
        self.uint(4, u64::from(event.dropped_attributes_count));
        self.end(at);
    }

    fn link(&mut self, link: &Link) {
        let at = self.begin(13, 1);
        let context = &link.span_context;
        self.bytes(1, &context.trace_id().to_bytes());
        self.bytes(2, &context.span_id().to_bytes());
        self.trace_state(3, context.trace_state());
        self.attributes(4, &link.attributes);
        self.uint(5, u64::from(link.dropped_attributes_count));
        self.fixed32(6, flags(context.is_remote(), context.trace_flags().to_u8()));
        self.end(at);
    }
}

#[inline]
fn varint_len(value: u64) -> usize {
    // 1 byte per started 7 bits, at least one (prost's `encoded_len_varint`, without a division).
    ((((value | 1).leading_zeros() ^ 63) * 9 + 73) / 64) as usize
}

/// opentelemetry-proto's `to_nanos`: a time before 1970 is 0.
#[inline]
fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `Span.SpanKind` numbers.
#[inline]
fn kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// The span's W3C flags with the is-remote bits, as opentelemetry-proto 0.33 writes them.
#[inline]
fn flags(remote: bool, trace_flags: u8) -> u32 {
    u32::from(trace_flags) | HAS_IS_REMOTE | if remote { IS_REMOTE } else { 0 }
}

/// The fields of a span, borrowed from a [`SpanRecord`] or an SDK [`SpanData`].
struct View<'a> {
    context: &'a SpanContext,
    parent_span_id: SpanId,
    parent_is_remote: bool,
    kind: &'a SpanKind,
    name: &'a str,
    start: SystemTime,
    end: SystemTime,
    attributes: &'a [KeyValue],
    dropped_attributes: u32,
    events: &'a [Event],
    dropped_events: u32,
    links: &'a [Link],
    dropped_links: u32,
    status: &'a Status,
}

impl<'a> View<'a> {
    fn of_record(r: &'a SpanRecord) -> Self {
        View {
            context: &r.context,
            parent_span_id: r.parent_span_id,
            parent_is_remote: r.parent_is_remote,
            kind: &r.kind,
            name: &r.name,
            start: r.start,
            end: r.end,
            attributes: &r.attributes,
            dropped_attributes: r.dropped_attributes,
            events: &r.events,
            dropped_events: r.dropped_events,
            links: &r.links,
            dropped_links: r.dropped_links,
            status: &r.status,
        }
    }

    fn of_data(d: &'a SpanData) -> Self {
        View {
            context: &d.span_context,
            parent_span_id: d.parent_span_id,
            parent_is_remote: d.parent_span_is_remote,
            kind: &d.span_kind,
            name: &d.name,
            start: d.start_time,
            end: d.end_time,
            attributes: &d.attributes,
            dropped_attributes: d.dropped_attributes_count,
            events: &d.events.events,
            dropped_events: d.events.dropped_count,
            links: &d.links.links,
            dropped_links: d.links.dropped_count,
            status: &d.status,
        }
    }
}

fn scope_of<'a>(own: &'a InstrumentationScope, span: &'a Finished) -> &'a InstrumentationScope {
    match span {
        Finished::Ours(_) => own,
        Finished::Sdk(data) => &data.instrumentation_scope,
    }
}

/// Writes `ExportTraceServiceRequest`s for one exporter: the resource encoded once, the
/// request buffer and the grouping scratch reused from batch to batch.
#[derive(Debug)]
pub(crate) struct Encoder {
    out: Writer,
    /// `ResourceSpans.resource` (field 1), encoded when the resource is set.
    resource: Vec<u8>,
    /// `ResourceSpans.schema_url` (field 3), encoded when the resource is set.
    resource_schema: Vec<u8>,
    /// The scope of tracer's own spans.
    own: InstrumentationScope,
    /// Per queued span, the index of its scope in `scopes`.
    groups: Vec<u32>,
    /// Distinct scopes of a batch, in order of first appearance: the index of the first span
    /// with it.
    scopes: Vec<usize>,
}

impl Encoder {
    /// An encoder for spans whose own scope is `own`, with an empty resource until
    /// [`Encoder::set_resource`] (as the SDK's exporters start).
    pub(crate) fn new(own: InstrumentationScope) -> Self {
        let mut encoder = Self {
            out: Writer::default(),
            resource: Vec::new(),
            resource_schema: Vec::new(),
            own,
            groups: Vec::new(),
            scopes: Vec::new(),
        };
        encoder.set_resource(&Resource::builder_empty().build());
        encoder
    }

    /// Encodes the resource that every request carries from now on.
    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        let mut w = Writer::default();
        let at = w.begin(1, 2);
        for (key, value) in resource.iter() {
            let kv = w.begin(1, 1);
            w.bytes(1, key.as_str().as_bytes());
            let v = w.begin(2, 1);
            w.any_value(value);
            w.end(v);
            w.end(kv);
        }
        w.end(at);
        self.resource = w.buf;
        let mut w = Writer::default();
        w.bytes(3, resource.schema_url().unwrap_or_default().as_bytes());
        self.resource_schema = w.buf;
    }

    /// Writes one request holding `spans` and returns its bytes (valid until the next call).
    #[inline(never)]
    pub(crate) fn encode(&mut self, spans: &[Finished]) -> &[u8] {
        self.group(spans);
        let mut out = std::mem::take(&mut self.out);
        out.buf.clear();
        if out.buf.capacity() > RETAINED_MAX {
            out.buf = Vec::new();
        }
        let resource_spans = out.begin(1, 3);
        out.buf.extend_from_slice(&self.resource);
        for (group, &first) in self.scopes.iter().enumerate() {
            let scope_spans = out.begin(2, 3);
            let scope = scope_of(&self.own, &spans[first]);
            out.scope(scope);
            for (span, &g) in spans[first..].iter().zip(&self.groups[first..]) {
                if g as usize == group {
                    out.span(&match span {
                        Finished::Ours(record) => View::of_record(record),
                        Finished::Sdk(data) => View::of_data(data),
                    });
                }
            }
            out.bytes(3, scope.schema_url().unwrap_or_default().as_bytes());
            out.end(scope_spans);
        }
        out.buf.extend_from_slice(&self.resource_schema);
        out.end(resource_spans);
        self.out = out;
        &self.out.buf
    }

    /// Finds each span's scope group, as `group_spans_by_resource_and_scope` does (by scope
    /// equality, in order of first appearance); tracer's own spans need no comparison.
    fn group(&mut self, spans: &[Finished]) {
        self.groups.clear();
        self.scopes.clear();
        let own = &self.own;
        let scopes = &mut self.scopes;
        let mut own_group = None;
        for (i, span) in spans.iter().enumerate() {
            let group = match (span, own_group) {
                (Finished::Ours(_), Some(g)) => g,
                _ => {
                    let scope = scope_of(own, span);
                    let found = scopes
                        .iter()
                        .position(|&first| scope_of(own, &spans[first]) == scope);
                    let g = found.unwrap_or_else(|| {
                        scopes.push(i);
                        scopes.len() - 1
                    }) as u32;
                    if matches!(span, Finished::Ours(_)) {
                        own_group = Some(g);
                    }
                    g
                }
            };
            self.groups.push(group);
        }
    }

    /// Bytes held by the request buffer (for the memory bound in tests).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.out.buf.capacity()
    }
}

#[cfg(test)]
mod tests;
