//! Traces as files: export, import, Jaeger's `/api/transform`, and the offline HTML page.
//!
//! People attach traces to tickets, so a trace must leave the collector as a file and come
//! back from one. Three formats travel:
//!
//! - **OTLP JSON**, as the OpenTelemetry Collector's file exporter and OpenTelemetry SDK JSON
//!   file exporters write it: one `ExportTraceServiceRequest` per line (JSON lines), or one
//!   whole (possibly pretty-printed) document;
//! - **Jaeger UI JSON**, as the Jaeger UI downloads a trace and `/api/traces` serves it:
//!   `{"data": [{"traceID", "spans", "processes"}]}`;
//! - **a self-contained HTML page** ([`crate::ui::offline`]) holding the UI code, its styles
//!   and the trace, which opens from `file://` without any network access.
//!
//! Endpoints on the query port (16686), next to the Jaeger API ([`api`]):
//!
//! | Request | Answer |
//! |---|---|
//! | `POST /api/import`, body: a trace file, `Content-Type: application/json` (or `application/x-ndjson`; others get 415, so no other site's page can make a browser store traces here) | `{"data": {"traceIDs": [...], "spans": N, "rejected": N, ...}}`; the traces are stored like any ingested trace |
//! | `POST /api/transform`, body: OTLP JSON | `{"data": [jaeger trace, ...], "total": 0, ...}`, as Jaeger's query service answers the Jaeger UI's OTLP upload; nothing is stored |
//! | `GET /api/export/{id}?format=otlp-json\|jaeger-json\|html` | the trace as a file (`Content-Disposition: attachment`) |
//!
//! Imports enter the store through the OTLP ingest path ([`crate::ingest::store_request`]), the
//! same validation and packing an OTLP/JSON export over HTTP gets; exports read through the
//! query conversion ([`crate::query::convert`]). The import endpoint lives on the query port,
//! not on OTLP/HTTP (4318), because the browser upload needs it on the UI's origin, the CLI
//! then needs one URL for both directions, and the answer can name the stored trace ids.
//!
//! **Hostile files.** A body is at most the collector's body limit (`--body-limit`, 64 MiB by
//! default; 413 beyond) and counts against the ingest budget while it is parsed (429 when the
//! budget is spent); a file holds at most [`parse::MAX_DOCUMENTS`] documents; JSON nesting is
//! bounded by serde_json's recursion limit. Parsing runs on the blocking pool. Errors are 400s
//! whose message names the line, column and JSON path of the bad field ([`parse::ParseError`]);
//! a file with an error stores nothing. The parsers are fuzzed (`fuzz/fuzz_targets/trace_files.rs`).
//!
//! **Command line** ([`cli`]): `tracer-collector export --trace ID` / `export --service NAME
//! --since 1h`, and `tracer-collector import FILE...`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Parse a file the way `/api/import` does, without a collector.
//! let text = std::fs::read("trace.otlp.json")?;
//! let file = tracer_collector::files::parse::parse(&text)?;
//! println!("{} documents", file.requests.len());
//! # Ok(()) }
//! ```

pub mod api;
pub mod cli;
pub(crate) mod jaeger_json;
pub mod parse;
