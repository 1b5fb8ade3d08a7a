//! Answers from traces: what is wrong with one trace (the [`lint`]er) and what got slower
//! between two sets of traces ([`regress`]).
//!
//! Both read the store's own records through [`view::TraceView`], never a wire format, and
//! are served by [`api`] on the query port (tracer's own paths, beside the Jaeger API):
//! - `GET /api/traces/{id}/findings`: the linter's findings for one trace
//!   ([`api::TraceFindings`] in the Jaeger `{data, errors}` envelope);
//! - `GET /api/regressions`: two time windows (or two trace sets) compared per operation path
//!   ([`regress::Comparison`]).
//!
//! The web UI shows the findings in the trace view and the comparison on its own page; the
//! terminal view (`tracer-collector view`), the MCP tools ([`crate::mcp`]) and the demo runner
//! read the same endpoints or functions.
//!
//! ```
//! use tracer_collector::insight::lint::lint;
//! use tracer_collector::insight::view::TraceView;
//! use tracer_collector::store::batch::{Resource, Scope, Span};
//! use tracer_collector::store::{SpanBatch, Store, StoreLimits};
//!
//! let store = Store::new(StoreLimits::default());
//! let mut batch = SpanBatch::new();
//! batch.resources.push(Resource { service: "shop", ..Resource::default() });
//! batch.scopes.push(Scope::default());
//! batch.spans.push(Span { trace_id: 7, span_id: 1, name: "GET /", start_ns: 0, end_ns: 10, ..Span::default() });
//! store.insert(store.prepare(&batch));
//!
//! let trace = store.trace(7).unwrap();
//! let view = TraceView::from_stored(&store, &trace);
//! assert!(lint(&view).is_empty());
//! ```

pub mod api;
pub mod lint;
pub mod regress;
pub mod view;

/// Largest trace (in spans) the insight tools read; a bigger one is refused with its size.
pub const MAX_TRACE_SPANS: usize = 50_000;
