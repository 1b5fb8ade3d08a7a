//! `GET /api/collector/traces/{id}`: one trace for the web UI, streamed in tree order, so the
//! UI can draw its first screen from the first spans while the rest are still on the way.
//!
//! Jaeger's `/api/traces/{id}` (which keeps its shape, see [`super::rest_handler`]) sends the
//! spans in store order and the processes last: a client can only build the span tree once the
//! whole document (some 700 bytes per span, 70 MB for 100,000 spans) has arrived and been
//! parsed. This endpoint is tracer's own: the same Jaeger UI model, cut into lines
//! (newline-delimited JSON, `application/x-ndjson`):
//!
//! ```text
//! {"traceID":"4ef7…","spans":100000,"processes":{"p1":{"serviceName":"gateway","tags":[…]},…}}
//! [{"traceID":"4ef7…","spanID":"…","operationName":"…","references":[…],…}, …]   (256 spans)
//! [ … ]                                                                          (256 spans)
//! {"done":true,"spans":100000}
//! ```
//!
//! The first line has the span count and every process the spans refer to; each following
//! line up to the last is a JSON array of Jaeger spans ([`super::model::Span`]), and the last
//! line says the trace is complete (a body that ends without it was cut short). Spans come in
//! the order the UI lists them (`tree_order`): depth first from the roots, children by start
//! time then span id, so every span comes after its parent and a client can append rows as
//! they arrive. A span id seen twice is sent once (its first copy), as the UI would keep it.
//!
//! Bounds are those of every streamed query ([`super::stream`]): a query slot, a blocking
//! thread that converts 256 spans (`CONVERT_SPANS`) per line and a body handed over in
//! [`super::stream::CHUNK_BYTES`] pieces. The tree order costs some 40 bytes per span (an
//! index of span ids, the children lists, the order itself: 4 MB for 100,000 spans) beside the
//! packed copy of the trace.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use super::QueryState;
use super::convert::JaegerSpans;
use super::rest_handler::stored_trace;
use super::stream::{BodyWriter, CONVERT_SPANS};
use crate::store::{SpanRecord, StoredTrace};

/// Path of the endpoint (axum syntax).
pub const TREE_STREAM_PATH: &str = "/api/collector/traces/{trace_id}";

/// Content type of the response.
pub const NDJSON: &str = "application/x-ndjson";

/// The order of a trace's spans in the UI's waterfall, as indices into `records`: the roots
/// (spans without a parent, whose parent is themselves or is not in the trace) by start time,
/// each followed depth first by its descendants, children by start time (in microseconds, as
/// the UI sees it) then span id. Spans in a parent cycle, unreachable from any root, follow:
/// each cycle is entered at its earliest span. A repeated span id keeps its first record only.
/// The same rules as `buildTrace` in the UI's model.js.
pub(crate) fn tree_order(records: &[SpanRecord]) -> Vec<u32> {
    let key = |i: u32| {
        let r = &records[i as usize];
        (r.start_ns / 1000, r.span_id)
    };
    let mut index: HashMap<u64, u32> = HashMap::with_capacity(records.len());
    let mut kept: Vec<u32> = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let i = i as u32;
        if let std::collections::hash_map::Entry::Vacant(slot) = index.entry(r.span_id) {
            slot.insert(i);
            kept.push(i);
        }
    }
    let parent = |i: u32| {
        let r = &records[i as usize];
        if r.parent_span_id == 0 || r.parent_span_id == r.span_id {
            None
        } else {
            index.get(&r.parent_span_id).copied()
        }
    };
    // Children of each span as one flat array: children[first[p]..first[p + 1]].
    let mut first = vec![0u32; records.len() + 1];
    let mut roots = Vec::new();
    for &i in &kept {
        match parent(i) {
            Some(p) => first[p as usize + 1] += 1,
            None => roots.push(i),
        }
    }
    for p in 0..records.len() {
        first[p + 1] += first[p];
    }
    let mut fill = first.clone();
    let mut children = vec![0u32; first[records.len()] as usize];
    for &i in &kept {
        if let Some(p) = parent(i) {
            children[fill[p as usize] as usize] = i;
            fill[p as usize] += 1;
        }
    }
    for p in 0..records.len() {
        children[first[p] as usize..first[p + 1] as usize].sort_unstable_by_key(|&c| key(c));
    }
    roots.sort_unstable_by_key(|&r| key(r));

    let mut visited = vec![false; records.len()];
    let mut order = Vec::with_capacity(kept.len());
    let mut stack = Vec::new();
    let mut walk = |root: u32, order: &mut Vec<u32>, visited: &mut Vec<bool>| {
        stack.push(root);
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut visited[i as usize], true) {
                continue;
            }
            order.push(i);
            let kids = &children[first[i as usize] as usize..first[i as usize + 1] as usize];
            stack.extend(kids.iter().rev());
        }
    };
    for &root in &roots {
        walk(root, &mut order, &mut visited);
    }
    if order.len() < kept.len() {
        let mut rest = kept.clone();
        rest.sort_unstable_by_key(|&i| key(i));
        for i in rest {
            if !visited[i as usize] {
                walk(i, &mut order, &mut visited);
            }
        }
    }
    order
}

pub(crate) async fn tree_stream(
    State(state): State<QueryState>,
    Path(trace_id): Path<String>,
) -> Response {
    let (permit, trace) = match stored_trace(&state, &trace_id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let store = state.store.clone();
    let mut response = BodyWriter::respond(StatusCode::OK, permit, move |w| {
        write_tree(&store, w, &trace)
    });
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    response
}

fn write_tree(
    store: &crate::store::Store,
    w: &mut BodyWriter,
    trace: &StoredTrace,
) -> std::io::Result<()> {
    let order = tree_order(trace.records());
    let mut converter = JaegerSpans::new(store, trace.trace_id);
    converter.register_processes(trace.spans_at(&order));
    w.raw("{\"traceID\":")?;
    w.json(converter.trace_hex())?;
    w.raw(&format!(",\"spans\":{},\"processes\":", order.len()))?;
    w.json(converter.processes())?;
    w.raw("}\n")?;
    for chunk in order.chunks(CONVERT_SPANS) {
        w.json(&converter.convert(trace.spans_at(chunk)))?;
        w.raw("\n")?;
    }
    w.raw(&format!("{{\"done\":true,\"spans\":{}}}\n", order.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ProcessId, RecordFields, ScopeId, Sym};

    fn record(span_id: u64, parent_span_id: u64, start_us: u64) -> SpanRecord {
        SpanRecord::new(
            RecordFields {
                span_id,
                parent_span_id,
                start_ns: start_us * 1000 + 7, // sub-microsecond parts do not order spans
                duration_ns: 1000,
                flags: 0,
                name: Sym(0),
                service: Sym(0),
                process: ProcessId(0),
                scope: ScopeId(0),
                kind: 0,
                status: 0,
                attr_bloom: 0,
            },
            0,
            0,
        )
    }

    fn ids(records: &[SpanRecord]) -> Vec<u64> {
        tree_order(records)
            .into_iter()
            .map(|i| records[i as usize].span_id)
            .collect()
    }

    #[test]
    fn lists_each_span_after_its_parent_children_by_start_then_id() {
        let records = [
            record(3, 1, 50),
            record(1, 0, 0),
            record(2, 1, 10),
            record(4, 2, 12),
            record(6, 1, 10), // same start as 2: the smaller id first
        ];
        assert_eq!(ids(&records), [1, 2, 4, 6, 3]);
    }

    #[test]
    fn orphans_and_self_parents_are_roots_by_start_and_cycles_come_last() {
        let records = [
            record(10, 99, 5),  // parent not in the trace
            record(11, 11, 1),  // its own parent
            record(20, 21, 30), // 20 <-> 21: a cycle, entered at its earliest span (21)
            record(21, 20, 2),
            record(1, 0, 3),
            record(1, 0, 0), // a repeated id: the first copy counts
        ];
        assert_eq!(ids(&records), [11, 1, 10, 21, 20]);
    }
}
