//! The MCP tools: what each one reads and how much it may answer.
//!
//! - `search_traces`: traces of a service (optionally an operation, a minimum duration, only
//!   failed ones) over the last `lookback_minutes`, newest first, as one line per trace: at most
//!   [`MAX_SEARCH`] traces.
//! - `get_trace_summary`: one trace as an indented span tree (at most [`MAX_TREE_SPANS`] spans
//!   shown, the rest counted), its failed spans, its critical path: from the root, the
//!   child that finished last, then its child that finished last, and so on, each with the
//!   time it spent outside that child (at most [`MAX_PATH`] steps), and the trace linter's
//!   findings ([`crate::insight::lint`], at most [`crate::insight::lint::MAX_FINDINGS`]).
//! - `get_red_metrics`: per operation of a service, calls, calls per second, error fraction and
//!   p50/p95/p99 latency over the last `lookback_minutes`, computed like `/api/metrics/*`
//!   ([`crate::query::metrics`], same bounds) with one window spanning the whole range.
//! - `compare_traces`: two traces matched by operation path (the chain of `service op` from the
//!   root, [`crate::insight::regress::operation_paths`]), the paths whose total duration changed
//!   most first (at most [`MAX_DIFFS`]), and the paths found in one trace only; paths deeper
//!   than [`MAX_PATH_DEPTH`] are shortened.
//!
//! The two trace tools refuse a trace of more than [`MAX_TRACE_SPANS`] spans, naming its size.
//!
//! - `compare_windows`: a service's operations (its server spans) in the last `window_minutes`
//!   against the window before it, compared by [`crate::insight::regress`] (the same rule as
//!   `/api/regressions`): calls and p50/p95 latency of each operation that got slower or
//!   faster, the biggest p95 change first (at most [`MAX_DIFFS`]), the unchanged ones counted;
//!   operations seen in one window only are listed as such.
//!
//! Each result is a `text` content block plus the same data as `structuredContent`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::query::QueryState;
use crate::query::convert::{parse_trace_id, to_jaeger, to_summaries};
use crate::query::metrics::{self, Measure, MetricsQuery};
use crate::query::model;
use crate::store::TraceQuery;

/// Most traces `search_traces` returns.
pub const MAX_SEARCH: usize = 50;
/// Most spans `get_trace_summary` lists in the tree.
pub const MAX_TREE_SPANS: usize = 200;
/// Most steps of a critical path.
pub const MAX_PATH: usize = 64;
/// Most operation paths `compare_traces` lists.
pub const MAX_DIFFS: usize = 30;
/// Largest trace (in spans) the trace tools read; bigger ones are refused with their size.
pub const MAX_TRACE_SPANS: usize = 50_000;
/// Levels of an operation path written out in `compare_traces`.
pub const MAX_PATH_DEPTH: usize = crate::insight::regress::MAX_PATH_DEPTH;
/// Longest `lookback_minutes` accepted (one week).
pub const MAX_LOOKBACK_MINUTES: u64 = 7 * 24 * 60;

/// Names of the tools.
pub const NAMES: [&str; 5] = [
    "search_traces",
    "get_trace_summary",
    "get_red_metrics",
    "compare_traces",
    "compare_windows",
];

/// Why a call has no result.
#[derive(Debug)]
pub enum CallError {
    /// No tool of that name.
    UnknownTool,
}

/// The `tools/list` entries.
pub fn list() -> Value {
    json!([
        {
            "name": "search_traces",
            "title": "Search traces",
            "description": format!("Find recent traces of a service, newest first (at most {MAX_SEARCH}). Each line: trace id, root operation, duration, span and error counts."),
            "inputSchema": {
                "type": "object",
                "properties": {
                    "service": {"type": "string", "description": "Service name"},
                    "operation": {"type": "string", "description": "Operation (span name) of a span in the trace"},
                    "lookback_minutes": {"type": "integer", "minimum": 1, "maximum": MAX_LOOKBACK_MINUTES, "description": "How far back to search (default 60)"},
                    "min_duration_ms": {"type": "number", "minimum": 0, "description": "Only traces with a span at least this long"},
                    "errors_only": {"type": "boolean", "description": "Only traces with a failed span"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_SEARCH, "description": "Traces to return (default 20)"}
                },
                "required": ["service"]
            }
        },
        {
            "name": "get_trace_summary",
            "title": "Trace summary",
            "description": format!("One trace: span tree (at most {MAX_TREE_SPANS} spans), failed spans, the critical path with each step's own time, and the linter's findings (N+1 queries, sequential calls, retry storms, swallowed/handled/propagated errors, the dominant span), each one sentence naming the spans, the evidence and the fix."),
            "inputSchema": {
                "type": "object",
                "properties": {"trace_id": {"type": "string", "description": "Trace id, hex"}},
                "required": ["trace_id"]
            }
        },
        {
            "name": "get_red_metrics",
            "title": "RED metrics",
            "description": "Per operation of a service: calls, calls per second, error fraction and p50/p95/p99 latency in ms over the last lookback_minutes.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "service": {"type": "string", "description": "Service name"},
                    "lookback_minutes": {"type": "integer", "minimum": 1, "maximum": MAX_LOOKBACK_MINUTES, "description": "Window (default 60)"},
                    "span_kind": {"type": "string", "enum": ["server", "client", "internal", "producer", "consumer", "unspecified"], "description": "Span kind counted (default server)"}
                },
                "required": ["service"]
            }
        },
        {
            "name": "compare_windows",
            "title": "What got slower",
            "description": format!("A service's operations (server spans) in the last window_minutes against the window before: calls, p50 and p95 latency of those that got slower or faster (p50 or p95 up 20% and 1 ms, Mann-Whitney p < 0.05 with 5+ samples a side), biggest p95 change first (at most {MAX_DIFFS}); unchanged ones counted."),
            "inputSchema": {
                "type": "object",
                "properties": {
                    "service": {"type": "string", "description": "Service name"},
                    "window_minutes": {"type": "integer", "minimum": 1, "maximum": MAX_LOOKBACK_MINUTES, "description": "Length of each window (default 30)"}
                },
                "required": ["service"]
            }
        },
        {
            "name": "compare_traces",
            "title": "Compare two traces",
            "description": format!("Match two traces' spans by operation path and list the paths whose time changed most (at most {MAX_DIFFS}), and paths present in one trace only."),
            "inputSchema": {
                "type": "object",
                "properties": {
                    "trace_id_a": {"type": "string", "description": "Baseline trace id, hex"},
                    "trace_id_b": {"type": "string", "description": "Trace id to compare, hex"}
                },
                "required": ["trace_id_a", "trace_id_b"]
            }
        }
    ])
}

/// Runs tool `name`; input problems come back as an `isError` result.
pub async fn call(state: &QueryState, name: &str, args: &Value) -> Result<Value, CallError> {
    let outcome = match name {
        "search_traces" => search_traces(state, args).await,
        "get_trace_summary" => trace_summary(state, args).await,
        "get_red_metrics" => red_metrics(state, args).await,
        "compare_traces" => compare_traces(state, args).await,
        "compare_windows" => compare_windows(state, args).await,
        _ => return Err(CallError::UnknownTool),
    };
    Ok(match outcome {
        Ok((text, data)) => json!({
            "content": [{"type": "text", "text": text}],
            "structuredContent": data,
            "isError": false,
        }),
        Err(message) => json!({
            "content": [{"type": "text", "text": message}],
            "isError": true,
        }),
    })
}

type Outcome = Result<(String, Value), String>;

fn string_arg<'a>(args: &'a Value, name: &str) -> Result<&'a str, String> {
    args.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("argument {name:?} is required and must be a non-empty string"))
}

fn uint_arg(args: &Value, name: &str, default: u64, max: u64) -> Result<u64, String> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!(
                "argument {name:?} is {v}; accepted an integer from 1 to {max}"
            )),
        },
    }
}

fn trace_id_arg(args: &Value, name: &str) -> Result<u128, String> {
    let raw = string_arg(args, name)?;
    parse_trace_id(raw)
        .ok_or_else(|| format!("argument {name:?} is {raw:?}, not a trace id (1 to 32 hex digits)"))
}

async fn blocking<T: Send + 'static>(
    state: &QueryState,
    work: impl FnOnce(&crate::store::Store) -> T + Send + 'static,
) -> Result<T, String> {
    let permit = state.limiter.acquire().await.map_err(|b| b.message())?;
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work(&store)
    })
    .await
    .map_err(|e| e.to_string())
}

async fn search_traces(state: &QueryState, args: &Value) -> Outcome {
    let service = string_arg(args, "service")?.to_owned();
    let lookback = uint_arg(args, "lookback_minutes", 60, MAX_LOOKBACK_MINUTES)?;
    let limit = uint_arg(args, "limit", 20, MAX_SEARCH as u64)? as usize;
    let min_ms = match args.get("min_duration_ms") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_f64().filter(|m| *m >= 0.0).ok_or_else(|| {
            format!("argument \"min_duration_ms\" is {v}; accepted a number >= 0")
        })?),
    };
    let errors_only = args
        .get("errors_only")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let now = crate::query::now_ns();
    let query = TraceQuery {
        service: Some(service.clone()),
        operation: args
            .get("operation")
            .and_then(Value::as_str)
            .map(str::to_owned),
        tags: if errors_only {
            vec![crate::vocabulary::tag_condition("error", "true")]
        } else {
            Vec::new()
        },
        start_min_ns: Some(now.saturating_sub(lookback.saturating_mul(60_000_000_000))),
        start_max_ns: Some(now),
        duration_min_ns: min_ms.map(|m| (m * 1e6) as u64),
        limit,
        ..TraceQuery::default()
    };
    let summaries = blocking(state, move |store| {
        let deadline = std::time::Instant::now() + crate::query::stream::SEARCH_TIMEOUT;
        let ids = store.search_ids(&query, Some(deadline))?;
        let traces: Vec<_> = ids.into_iter().filter_map(|id| store.trace(id)).collect();
        Some(to_summaries(store, &traces))
    })
    .await?
    .ok_or_else(crate::query::rest_handler::search_timeout_message)?;
    let mut text = format!(
        "{} trace(s) of {service} in the last {lookback} min:\n",
        summaries.len()
    );
    let mut rows = Vec::new();
    for s in &summaries {
        let start: u64 = s.min_start_time_unix_nano.parse().unwrap_or(0);
        let end: u64 = s.max_end_time_unix_nano.parse().unwrap_or(0);
        let ms = end.saturating_sub(start) as f64 / 1e6;
        let _ = writeln!(
            text,
            "{}  {} {}  {ms:.3} ms  {} spans  {} errors",
            s.trace_id,
            s.root_service_name,
            s.root_operation_name,
            s.span_count,
            s.error_span_count
        );
        rows.push(json!({
            "trace_id": s.trace_id,
            "root_service": s.root_service_name,
            "root_operation": s.root_operation_name,
            "duration_ms": ms,
            "span_count": s.span_count,
            "error_count": s.error_span_count,
        }));
    }
    Ok((text, json!({"traces": rows})))
}

/// A trace prepared for tree walks.
struct Tree {
    trace: model::Trace,
    children: HashMap<String, Vec<usize>>,
    roots: Vec<usize>,
}

impl Tree {
    fn new(trace: model::Trace) -> Self {
        let ids: std::collections::HashSet<&str> =
            trace.spans.iter().map(|s| s.span_id.as_str()).collect();
        let mut children: HashMap<String, Vec<usize>> = HashMap::new();
        let mut roots = Vec::new();
        for (i, span) in trace.spans.iter().enumerate() {
            match parent_of(span).filter(|p| ids.contains(p)) {
                Some(parent) => children.entry(parent.to_owned()).or_default().push(i),
                None => roots.push(i),
            }
        }
        for list in children.values_mut() {
            list.sort_by_key(|&i| trace.spans[i].start_time);
        }
        roots.sort_by_key(|&i| trace.spans[i].start_time);
        drop(ids);
        Tree {
            trace,
            children,
            roots,
        }
    }

    fn span(&self, i: usize) -> &model::Span {
        &self.trace.spans[i]
    }

    fn service(&self, i: usize) -> &str {
        self.trace
            .processes
            .get(&self.span(i).process_id)
            .map_or("?", |p| p.service_name.as_str())
    }

    fn kids(&self, i: usize) -> &[usize] {
        self.children
            .get(&self.span(i).span_id)
            .map_or(&[], Vec::as_slice)
    }

    fn failed(&self, i: usize) -> bool {
        self.span(i)
            .tags
            .iter()
            .any(|t| t.key == "error" && t.value == Value::Bool(true))
    }

    fn label(&self, i: usize) -> String {
        format!("{} {}", self.service(i), self.span(i).operation_name)
    }

    /// Span indexes in depth-first order with their depth.
    fn walk(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::with_capacity(self.trace.spans.len());
        let mut stack: Vec<(usize, usize)> = self.roots.iter().rev().map(|&r| (r, 0)).collect();
        while let Some((i, depth)) = stack.pop() {
            out.push((i, depth));
            for &k in self.kids(i).iter().rev() {
                stack.push((k, depth + 1));
            }
        }
        out
    }
}

fn parent_of(span: &model::Span) -> Option<&str> {
    span.references
        .iter()
        .find(|r| r.ref_type == "CHILD_OF")
        .map(|r| r.span_id.as_str())
}

fn end_us(span: &model::Span) -> u64 {
    span.start_time.saturating_add(span.duration)
}

async fn load_trace(state: &QueryState, id: u128) -> Result<Tree, String> {
    let trace = blocking(state, move |store| match store.trace_span_count(id) {
        None => Err(format!("trace {id:032x} is not in the store")),
        Some(n) if n > MAX_TRACE_SPANS => Err(format!(
            "trace {id:032x} has {n} spans; the trace tools read at most {MAX_TRACE_SPANS} (open \
             it in the web UI instead)"
        )),
        Some(_) => store
            .trace(id)
            .map(|t| to_jaeger(store, &t))
            .ok_or_else(|| format!("trace {id:032x} is not in the store")),
    })
    .await??;
    Ok(Tree::new(trace))
}

async fn trace_summary(state: &QueryState, args: &Value) -> Outcome {
    let id = trace_id_arg(args, "trace_id")?;
    let tree = load_trace(state, id).await?;
    let spans = &tree.trace.spans;
    let start = spans.iter().map(|s| s.start_time).min().unwrap_or(0);
    let end = spans.iter().map(end_us).max().unwrap_or(0);
    let mut text = format!(
        "trace {}: {} spans, {:.3} ms\n\ntree:\n",
        tree.trace.trace_id,
        spans.len(),
        end.saturating_sub(start) as f64 / 1000.0
    );
    let walk = tree.walk();
    let mut tree_rows = Vec::new();
    for &(i, depth) in walk.iter().take(MAX_TREE_SPANS) {
        let s = tree.span(i);
        let _ = writeln!(
            text,
            "{}{}  {:.3} ms @+{:.3} ms{}",
            "  ".repeat(depth.min(40)),
            tree.label(i),
            s.duration as f64 / 1000.0,
            s.start_time.saturating_sub(start) as f64 / 1000.0,
            if tree.failed(i) { "  ERROR" } else { "" }
        );
        tree_rows.push(json!({
            "span_id": s.span_id, "depth": depth, "service": tree.service(i),
            "operation": s.operation_name, "duration_ms": s.duration as f64 / 1000.0,
            "offset_ms": s.start_time.saturating_sub(start) as f64 / 1000.0, "error": tree.failed(i),
        }));
    }
    if walk.len() > MAX_TREE_SPANS {
        let _ = writeln!(
            text,
            "... {} more spans not shown",
            walk.len() - MAX_TREE_SPANS
        );
    }
    let errors: Vec<String> = (0..spans.len())
        .filter(|&i| tree.failed(i))
        .map(|i| tree.label(i))
        .collect();
    let _ = writeln!(
        text,
        "\nfailed spans: {}",
        if errors.is_empty() {
            "none".to_owned()
        } else {
            errors.join(", ")
        }
    );
    // Critical path: from the longest root, follow the child that ended last.
    let mut path = Vec::new();
    let mut current = tree
        .roots
        .iter()
        .copied()
        .max_by_key(|&r| tree.span(r).duration);
    while let Some(i) = current {
        if path.len() >= MAX_PATH {
            break;
        }
        let next = tree
            .kids(i)
            .iter()
            .copied()
            .max_by_key(|&k| end_us(tree.span(k)));
        let own = tree
            .span(i)
            .duration
            .saturating_sub(next.map_or(0, |k| tree.span(k).duration));
        path.push(json!({
            "span_id": tree.span(i).span_id, "service": tree.service(i),
            "operation": tree.span(i).operation_name,
            "duration_ms": tree.span(i).duration as f64 / 1000.0,
            "self_ms": own as f64 / 1000.0,
        }));
        current = next;
    }
    let _ = writeln!(text, "\ncritical path:");
    for step in &path {
        let _ = writeln!(
            text,
            "  {} {}  {} ms (self {} ms)",
            step["service"].as_str().unwrap_or(""),
            step["operation"].as_str().unwrap_or(""),
            step["duration_ms"],
            step["self_ms"]
        );
    }
    let findings = crate::insight::api::findings(state, id)
        .await
        .map_err(|e| e.to_string())?
        .findings;
    let _ = writeln!(
        text,
        "\nfindings:{}",
        if findings.is_empty() { " none" } else { "" }
    );
    for f in &findings {
        let marker = match f.severity {
            crate::insight::lint::Severity::Warning => "!",
            crate::insight::lint::Severity::Info => "i",
        };
        let _ = writeln!(text, "  {marker} {}", f.message);
    }
    let data = json!({
        "trace_id": tree.trace.trace_id,
        "span_count": spans.len(),
        "duration_ms": end.saturating_sub(start) as f64 / 1000.0,
        "tree": tree_rows,
        "tree_truncated": walk.len() > MAX_TREE_SPANS,
        "failed_spans": errors,
        "critical_path": path,
        "findings": findings,
    });
    Ok((text, data))
}

async fn red_metrics(state: &QueryState, args: &Value) -> Outcome {
    let service = string_arg(args, "service")?.to_owned();
    let lookback = uint_arg(args, "lookback_minutes", 60, MAX_LOOKBACK_MINUTES)?;
    let kind_name = args
        .get("span_kind")
        .and_then(Value::as_str)
        .unwrap_or("server");
    let kind = metrics::parse_metrics_span_kind(kind_name).ok_or_else(|| {
        format!(
            "argument \"span_kind\" is {kind_name:?}; accepted server, client, internal, \
             producer, consumer, unspecified"
        )
    })?;
    let window_ms = lookback * 60_000;
    let query = MetricsQuery {
        services: vec![service.clone()],
        group_by_operation: true,
        span_kinds: vec![kind],
        end_ms: crate::query::now_ns() / 1_000_000,
        lookback_ms: 0,
        step_ms: window_ms,
        rate_per_ms: window_ms,
    };
    let mut table: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for (key, measure) in [
        ("calls_per_second", Measure::Calls),
        ("error_fraction", Measure::Errors),
        ("p50_ms", Measure::Latency(0.5)),
        ("p95_ms", Measure::Latency(0.95)),
        ("p99_ms", Measure::Latency(0.99)),
    ] {
        let family = metrics::metrics_for(state, measure, query.clone())
            .await
            .map_err(|(_, msg)| msg)?;
        for metric in family.metrics {
            let op = metric
                .labels
                .iter()
                .find(|l| l.name == "operation")
                .map_or_else(String::new, |l| l.value.clone());
            if let Some(point) = metric.metric_points.first() {
                let row = table.entry(op).or_default();
                row.insert(key.into(), json!(point.gauge_value.double_value));
                if key == "calls_per_second" {
                    let calls =
                        (point.gauge_value.double_value * window_ms as f64 / 1000.0).round();
                    row.insert("calls".into(), json!(calls as u64));
                }
            }
        }
    }
    let mut text = format!(
        "RED metrics of {service} ({kind_name} spans, last {lookback} min), per operation:\n"
    );
    let mut rows = Vec::new();
    for (op, mut row) in table {
        let get = |k: &str| row.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let _ = writeln!(
            text,
            "{op}: {} calls ({:.4}/s), errors {:.1}%, p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms",
            get("calls"),
            get("calls_per_second"),
            get("error_fraction") * 100.0,
            get("p50_ms"),
            get("p95_ms"),
            get("p99_ms")
        );
        row.insert("operation".into(), json!(op));
        rows.push(Value::Object(row));
    }
    if rows.is_empty() {
        let _ = writeln!(text, "no {kind_name} spans of {service} in that window");
    }
    Ok((
        text,
        json!({"service": service, "lookback_minutes": lookback, "operations": rows}),
    ))
}

async fn compare_windows(state: &QueryState, args: &Value) -> Outcome {
    use crate::insight::api::{Keys, TraceSet, samples_of};
    use crate::insight::regress::{self, Significance};

    let service = string_arg(args, "service")?.to_owned();
    let window = uint_arg(args, "window_minutes", 30, MAX_LOOKBACK_MINUTES)?;
    let window_ns = window * 60_000_000_000;
    let now = crate::query::now_ns();
    let set = |start_ns: u64, end_ns: u64| TraceSet::Window {
        service: Some(service.clone()),
        start_ns,
        end_ns,
    };
    let middle = now.saturating_sub(window_ns);
    let keys = Keys::ServerOperations(service.clone());
    let (before, _) = samples_of(
        state,
        set(middle.saturating_sub(window_ns), middle),
        keys.clone(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let (after, _) = samples_of(state, set(middle + 1, now), keys)
        .await
        .map_err(|e| e.to_string())?;
    let rule = Significance::default();
    let result = regress::compare(&before, &after, &rule);
    let mut text = format!(
        "{service}: last {window} min against the {window} min before, biggest p95 increase first:\n"
    );
    let mut out = Vec::new();
    for (verdict, change) in result
        .slower
        .iter()
        .map(|c| ("slower", c))
        .chain(result.faster.iter().map(|c| ("faster", c)))
        .take(MAX_DIFFS)
    {
        let (b, a) = (&change.before, &change.after);
        let _ = writeln!(
            text,
            "{}: p95 {:.3} -> {:.3} ms ({:+.3}), p50 {:.3} -> {:.3} ms, calls {} -> {} ({verdict})",
            change.path,
            b.p95_ms,
            a.p95_ms,
            change.p95_delta_ms,
            b.p50_ms,
            a.p50_ms,
            b.count,
            a.count
        );
        out.push(json!({
            "operation": change.path, "calls_before": b.count, "calls_after": a.count,
            "p50_ms_before": b.p50_ms, "p50_ms_after": a.p50_ms,
            "p95_ms_before": b.p95_ms, "p95_ms_after": a.p95_ms, "p95_delta_ms": change.p95_delta_ms,
        }));
    }
    let _ = writeln!(
        text,
        "{} operation(s) unchanged ({})",
        result.unchanged, result.rule
    );
    if !result.only_before.is_empty() {
        let _ = writeln!(text, "only before: {}", result.only_before.join(", "));
    }
    if !result.only_after.is_empty() {
        let _ = writeln!(
            text,
            "only in the last window: {}",
            result.only_after.join(", ")
        );
    }
    Ok((
        text,
        json!({"service": service, "window_minutes": window, "operations": out,
               "unchanged": result.unchanged, "rule": result.rule,
               "only_before": result.only_before, "only_after": result.only_after}),
    ))
}

async fn compare_traces(state: &QueryState, args: &Value) -> Outcome {
    let load = |name| async move {
        let id = trace_id_arg(args, name)?;
        crate::insight::api::load_view(state, id)
            .await
            .map_err(|e| e.to_string())
    };
    let (a, b) = (load("trace_id_a").await?, load("trace_id_b").await?);
    // Per operation path: span count and total duration in µs.
    let totals = |view: &crate::insight::view::TraceView| {
        let mut m: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (path, i) in crate::insight::regress::operation_paths(view) {
            let e = m.entry(path).or_default();
            e.0 += 1;
            e.1 += view.spans[i].duration_ns / 1000;
        }
        m
    };
    let (ta, tb) = (totals(&a), totals(&b));
    let mut both = Vec::new();
    let mut only_a = Vec::new();
    let mut only_b = Vec::new();
    for (path, &(na, da)) in &ta {
        match tb.get(path) {
            Some(&(nb, db)) => both.push((path.clone(), na, da, nb, db)),
            None => only_a.push(path.clone()),
        }
    }
    for path in tb.keys() {
        if !ta.contains_key(path) {
            only_b.push(path.clone());
        }
    }
    both.sort_by_key(|&(_, _, da, _, db)| std::cmp::Reverse(da.abs_diff(db)));
    let mut text = format!(
        "{} (A) vs {} (B): {} shared operation paths, {} only in A, {} only in B\n\nbiggest changes (B - A):\n",
        crate::query::convert::trace_id_hex(a.trace_id),
        crate::query::convert::trace_id_hex(b.trace_id),
        both.len(),
        only_a.len(),
        only_b.len()
    );
    let mut rows = Vec::new();
    for (path, na, da, nb, db) in both.iter().take(MAX_DIFFS) {
        let delta = *db as f64 / 1000.0 - *da as f64 / 1000.0;
        let _ = writeln!(
            text,
            "{delta:+.3} ms  {path}  ({na}x {:.3} ms -> {nb}x {:.3} ms)",
            *da as f64 / 1000.0,
            *db as f64 / 1000.0
        );
        rows.push(json!({
            "path": path, "count_a": na, "count_b": nb,
            "total_ms_a": *da as f64 / 1000.0, "total_ms_b": *db as f64 / 1000.0, "delta_ms": delta,
        }));
    }
    for (title, list) in [("only in A", &only_a), ("only in B", &only_b)] {
        if !list.is_empty() {
            let _ = writeln!(text, "\n{title}:");
            for path in list.iter().take(MAX_DIFFS) {
                let _ = writeln!(text, "  {path}");
            }
        }
    }
    only_a.truncate(MAX_DIFFS);
    only_b.truncate(MAX_DIFFS);
    Ok((
        text,
        json!({"changes": rows, "only_in_a": only_a, "only_in_b": only_b}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: u64, parent: Option<u64>, start: u64, duration: u64) -> model::Span {
        model::Span {
            trace_id: "1".into(),
            span_id: format!("{id:016x}"),
            flags: 0,
            operation_name: format!("op{id}"),
            references: parent
                .map(|p| model::Reference {
                    ref_type: "CHILD_OF".into(),
                    trace_id: "1".into(),
                    span_id: format!("{p:016x}"),
                })
                .into_iter()
                .collect(),
            start_time: start,
            duration,
            tags: Vec::new(),
            logs: Vec::new(),
            process_id: "p1".into(),
            warnings: None,
        }
    }

    fn tree(spans: Vec<model::Span>) -> Tree {
        let mut processes = std::collections::BTreeMap::new();
        processes.insert(
            "p1".to_owned(),
            model::Process {
                service_name: "svc".into(),
                tags: Vec::new(),
            },
        );
        Tree::new(model::Trace {
            trace_id: "1".into(),
            spans,
            processes,
            warnings: None,
        })
    }

    #[test]
    fn walk_visits_children_in_start_order_under_their_parent() {
        let t = tree(vec![
            span(1, None, 0, 100),
            span(3, Some(1), 50, 10),
            span(2, Some(1), 10, 10),
            span(4, Some(2), 12, 5),
        ]);
        let order: Vec<(String, usize)> = t
            .walk()
            .into_iter()
            .map(|(i, d)| (t.span(i).operation_name.clone(), d))
            .collect();
        assert_eq!(
            order,
            [
                ("op1".to_owned(), 0),
                ("op2".to_owned(), 1),
                ("op4".to_owned(), 2),
                ("op3".to_owned(), 1)
            ]
        );
    }
}
