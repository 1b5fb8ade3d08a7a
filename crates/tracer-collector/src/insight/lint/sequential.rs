//! Sequential calls that could run concurrently.
//!
//! A trace cannot say whether one call needs another's answer, so this rule flags only runs
//! where nothing suggests it, and leaves out everything that usually means a dependency:
//! - parents that already run some of their calls concurrently (they fan out where they can;
//!   the order of the rest is taken as deliberate);
//! - failed calls and the call right after one (a retry or a fallback), calls with
//!   `http.request.resend_count`, and the queries of an N+1 group (reported as such);
//! - writes (HTTP `POST`/`PUT`/`PATCH`/`DELETE`, SQL `INSERT`/`UPDATE`/`DELETE`/..., Redis
//!   `SET`/`DEL`/...): a write is taken to use what was read before it;
//! - a repeat of an earlier call (the same name, target and statement or URL): running it
//!   twice at once would not help;
//! - a change of kind: a run is made of calls to one database system, or of service calls
//!   (HTTP, gRPC, messaging); a service call after a database read, or a database read after
//!   a cache read, is taken to use what came back (a miss of the cache is why the database is
//!   read).
//!
//! What is left is a run of [`MIN_RUN`] or more calls of one parent, each starting after the
//! one before ended, with a gap of at most [`MAX_GAP_NS`] or [`MAX_GAP_SHARE`] of the shorter
//! call (a long gap is work in between, likely on the answer). The run is reported when
//! running it concurrently would save (its total minus its longest call) at least
//! [`MIN_SAVING_SHARE`] of the parent's duration and at least [`MIN_SAVING_NS`].
//!
//! ```
//! use tracer_collector::insight::lint::{Rule, lint};
//! use tracer_collector::insight::view::{TraceView, ViewSpan};
//!
//! let ms = 1_000_000;
//! let call = |id, name: &str, start| {
//!     ViewSpan::new(id, 1, "web", name).client().timing(start * ms, 20 * ms)
//!         .attribute("http.request.method", "GET")
//!         .attribute("url.full", format!("http://api/{name}"))
//! };
//! let spans = vec![
//!     ViewSpan::new(1, 0, "web", "GET /home").kind(2).timing(0, 70 * ms),
//!     call(2, "user", 1),
//!     call(3, "cart", 22),
//!     call(4, "offers", 43),
//! ];
//! let findings = lint(&TraceView::new(1, spans));
//! assert_eq!(findings[0].rule, Rule::SequentialCalls);
//! ```

use std::collections::HashSet;

use opentelemetry_semantic_conventions::attribute as semconv;

use super::retries::resend_count;
use super::{Finding, Rule, Severity, Words, ms};
use crate::insight::view::TraceView;

/// Fewest calls in a run.
pub const MIN_RUN: usize = 2;
/// Largest gap between two calls of a run, in nanoseconds (or [`MAX_GAP_SHARE`]).
pub const MAX_GAP_NS: u64 = 1_000_000;
/// Largest gap between two calls of a run, as a share of the shorter call.
pub const MAX_GAP_SHARE: f64 = 0.25;
/// Least saving, as a share of the parent's duration.
pub const MIN_SAVING_SHARE: f64 = 0.1;
/// Least saving, in nanoseconds.
pub const MIN_SAVING_NS: u64 = 1_000_000;

const WRITE_METHODS: &[&str] = &["POST", "PUT", "PATCH", "DELETE"];
const WRITE_STATEMENTS: &[&str] = &[
    "insert", "update", "delete", "replace", "merge", "upsert", "create", "alter", "drop",
    "truncate", "set", "setex", "psetex", "setnx", "mset", "del", "unlink", "hset", "hdel",
    "lpush", "rpush", "sadd", "srem", "zadd", "zrem", "incr", "incrby", "decr", "expire",
    "publish", "xadd", "call", "exec",
];

/// Whether span `i` changes something (and so is taken to depend on what came before).
fn is_write(trace: &TraceView, i: usize) -> bool {
    let s = &trace.spans[i];
    if let Some(m) = s.attr(semconv::HTTP_REQUEST_METHOD) {
        return WRITE_METHODS.contains(&m.to_ascii_uppercase().as_str());
    }
    if s.kind == crate::store::batch::KIND_PRODUCER {
        return true;
    }
    if s.db_system().is_some() {
        let op = s
            .attr(semconv::DB_OPERATION_NAME)
            .or_else(|| s.attr(semconv::DB_QUERY_TEXT))
            .unwrap_or(&s.name);
        let first = op
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        return WRITE_STATEMENTS.contains(&first.as_str());
    }
    false
}

/// The kind of system a call goes to: its database system, or "service".
fn channel(trace: &TraceView, i: usize) -> &str {
    trace.spans[i].db_system().unwrap_or("service")
}

/// What makes two calls the same call.
fn identity(trace: &TraceView, i: usize) -> (String, String) {
    let s = &trace.spans[i];
    let what = s
        .attr(semconv::URL_FULL)
        .or_else(|| s.attr(semconv::DB_QUERY_TEXT))
        .or_else(|| s.attr(semconv::URL_PATH))
        .unwrap_or("");
    let target = format!(
        "{}:{}",
        s.attr(semconv::SERVER_ADDRESS).unwrap_or(""),
        s.attr(semconv::SERVER_PORT).unwrap_or("")
    );
    (format!("{} {what}", s.name), target)
}

/// The sequential-call findings of `trace`; spans of `n_plus_one` groups are left out.
pub fn find(trace: &TraceView, n_plus_one: &HashSet<usize>) -> Vec<Finding> {
    let mut out = Vec::new();
    for parent in 0..trace.spans.len() {
        let calls: Vec<usize> = trace
            .children(parent)
            .iter()
            .copied()
            .filter(|&c| trace.spans[c].is_call())
            .collect();
        if calls.len() < MIN_RUN || runs_concurrently(trace, &calls) {
            continue;
        }
        let mut seen = HashSet::new();
        let mut run: Vec<usize> = Vec::new();
        let flush = |run: &mut Vec<usize>, out: &mut Vec<Finding>| {
            if run.len() >= MIN_RUN
                && let Some(f) = finding(trace, parent, run)
            {
                out.push(f);
            }
            run.clear();
        };
        for (k, &c) in calls.iter().enumerate() {
            let s = &trace.spans[c];
            let after_failure = k > 0 && trace.spans[calls[k - 1]].failing();
            let repeat = !seen.insert(identity(trace, c));
            let excluded = s.failing()
                || after_failure
                || resend_count(trace, c).is_some_and(|n| n > 0)
                || n_plus_one.contains(&c)
                || is_write(trace, c)
                || repeat;
            if excluded {
                flush(&mut run, &mut out);
                continue;
            }
            if let Some(&prev) = run.last() {
                let p = &trace.spans[prev];
                let gap = s.start_ns.saturating_sub(p.end_ns());
                let shorter = p.duration_ns.min(s.duration_ns);
                let small = gap <= MAX_GAP_NS || (gap as f64) <= MAX_GAP_SHARE * shorter as f64;
                if channel(trace, prev) != channel(trace, c) || !small {
                    flush(&mut run, &mut out);
                }
            }
            run.push(c);
        }
        flush(&mut run, &mut out);
    }
    out
}

/// Whether two of the calls overlap in time.
fn runs_concurrently(trace: &TraceView, calls: &[usize]) -> bool {
    let mut by_start: Vec<usize> = calls.to_vec();
    by_start.sort_by_key(|&c| trace.spans[c].start_ns);
    let mut end = 0u64;
    for (k, &c) in by_start.iter().enumerate() {
        if k > 0 && trace.spans[c].start_ns < end {
            return true;
        }
        end = end.max(trace.spans[c].end_ns());
    }
    false
}

fn finding(trace: &TraceView, parent: usize, run: &[usize]) -> Option<Finding> {
    let durations: Vec<u64> = run.iter().map(|&i| trace.spans[i].duration_ns).collect();
    let total: u64 = durations.iter().sum();
    let longest = durations.iter().copied().max().unwrap_or(0);
    let saving = total - longest;
    let parent_ns = trace.spans[parent].duration_ns;
    if saving < MIN_SAVING_NS || (saving as f64) < MIN_SAVING_SHARE * parent_ns as f64 {
        return None;
    }
    let max_gap = run
        .windows(2)
        .map(|w| {
            trace.spans[w[1]]
                .start_ns
                .saturating_sub(trace.spans[w[0]].end_ns())
        })
        .max()
        .unwrap_or(0);
    let labels: Vec<String> = run.iter().map(|&i| trace.label(i)).collect();
    Some(Finding::new(
        trace,
        Rule::SequentialCalls,
        Severity::Warning,
        run,
        Words {
            subject: format!(
                "{} calls under {} ({})",
                run.len(),
                trace.label(parent),
                labels.join(", ")
            ),
            evidence: format!(
                "they ran one after another with gaps of at most {}, {} in all where the \
                 longest took {}",
                ms(max_gap),
                ms(total),
                ms(longest)
            ),
            fix: format!(
                "if none needs another's answer, send them concurrently (fan out and join) to \
                 save about {}",
                ms(saving)
            ),
        },
        saving,
    ))
}
