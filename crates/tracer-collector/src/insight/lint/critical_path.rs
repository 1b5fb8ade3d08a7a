//! The critical path and its dominant span.
//!
//! The critical path is the chain of work the trace's end waited for. From the longest root,
//! walking back from its end: the child that finished last (before the point reached) is on
//! the path, from its end back to its start, and so on down and back; the time of a span not
//! covered by a child on the path is that span's *own* time on the path. (This is the
//! algorithm Jaeger UI draws; children ending after their parent are cut at the parent's end.)
//!
//! The span with the most own time is the dominant span; it is a finding when its own time is
//! at least [`DOMINANT_SHARE`] of the trace's duration: that span is where a faster trace must
//! come from. A root that is neither a server nor a consumer span (a script, a test, a job) is
//! never the dominant span: its own time is the wait between the requests it makes. The fix depends on the span: a query, a call whose callee is not traced, or the
//! code of the service itself.
//!
//! ```
//! use tracer_collector::insight::lint::critical_path::path;
//! use tracer_collector::insight::view::{TraceView, ViewSpan};
//!
//! let ms = 1_000_000;
//! let trace = TraceView::new(1, vec![
//!     ViewSpan::new(1, 0, "api", "GET /").timing(0, 100 * ms),
//!     ViewSpan::new(2, 1, "api", "fast").timing(5 * ms, 10 * ms),
//!     ViewSpan::new(3, 1, "api", "slow").timing(10 * ms, 80 * ms),
//! ]);
//! let steps = path(&trace);
//! // The root's own 10 + 10 ms, then "slow"; "fast" overlaps "slow" and is not on the path.
//! assert_eq!(steps, [(0, 20 * ms), (2, 80 * ms)]);
//! ```

use opentelemetry_semantic_conventions::attribute as semconv;

use crate::store::batch::{KIND_CONSUMER, KIND_SERVER};

use super::{Finding, Rule, Severity, Words, ms};
use crate::insight::view::TraceView;

/// Least share of the trace's duration the dominant span's own time must have to be reported.
pub const DOMINANT_SHARE: f64 = 0.5;

/// The spans on the critical path, in the order the path reaches them, each with its own time
/// on the path in nanoseconds.
pub fn path(trace: &TraceView) -> Vec<(usize, u64)> {
    let Some(&root) = trace
        .roots()
        .iter()
        .max_by_key(|&&r| trace.spans[r].duration_ns)
    else {
        return Vec::new();
    };
    let mut out: Vec<(usize, u64)> = Vec::new();
    let mut stack = vec![(root, trace.spans[root].end_ns())];
    while let Some((i, bound)) = stack.pop() {
        let span = &trace.spans[i];
        let start = span.start_ns;
        let window_end = span.end_ns().min(bound);
        let mut t = window_end;
        let mut own = 0u64;
        let mut kids: Vec<usize> = trace.children(i).to_vec();
        kids.sort_by_key(|&c| std::cmp::Reverse(trace.spans[c].end_ns()));
        let mut next = Vec::new();
        for c in kids {
            if t <= start {
                break;
            }
            let child = &trace.spans[c];
            if child.start_ns >= t || (child.end_ns() > t && t < window_end) {
                // Starts after the point reached, or overlaps the span already on the path.
                continue;
            }
            let child_end = child.end_ns().min(t);
            own += t - child_end;
            next.push((c, child_end));
            t = child.start_ns.max(start);
        }
        own += t.saturating_sub(start);
        out.push((i, own));
        // Visit the children on the path in time order (the stack pops the last pushed).
        stack.extend(next);
    }
    out
}

/// What to do about span `i` taking the time.
fn fix_for(trace: &TraceView, i: usize) -> String {
    let span = &trace.spans[i];
    let callee = trace
        .children(i)
        .iter()
        .copied()
        .find(|&c| trace.spans[c].service != span.service);
    match (span.db_system(), span.is_call(), callee) {
        (Some(system), true, _) => format!(
            "make this {system} call faster (an index, fewer rows, no lock wait) or take it \
             off the request's path"
        ),
        (Some(system), false, _) => format!(
            "the time is spent waiting inside the {system} client (for a connection from its \
             pool): give the pool more connections or hold each one for less time"
        ),
        (None, true, Some(c)) => format!(
            "the time is between the call and {}'s span: connection set-up, a queue or the \
             network; reuse connections, or look at what {} does before its span starts",
            trace.label(c),
            trace.spans[c].service
        ),
        (None, true, None) => {
            let target = span
                .attr(semconv::SERVER_ADDRESS)
                .unwrap_or("the called service");
            format!(
                "the time is spent in {target} or on the way there, which this trace does not \
                 show: trace that service or make the call cheaper"
            )
        }
        (None, false, _) => format!(
            "the time is {}'s own work between its calls (or a wait, such as a backoff): \
             profile that code, or give it a child span for each step to see which one",
            span.service
        ),
    }
}

/// The dominant-span finding of `trace`, if any.
pub fn find(trace: &TraceView) -> Option<Finding> {
    let (start, end) = trace.bounds();
    let total = end.saturating_sub(start);
    let steps = path(trace);
    let &(i, own) = steps.iter().max_by_key(|(_, own)| *own)?;
    if total == 0 || (own as f64) < DOMINANT_SHARE * total as f64 {
        return None;
    }
    let span = &trace.spans[i];
    if trace.parent(i).is_none() && span.kind != KIND_SERVER && span.kind != KIND_CONSUMER {
        // A root that is a script, a test or a job: its own time is waiting between the
        // requests it makes, not work a trace can explain.
        return None;
    }
    let share = own as f64 * 100.0 / total as f64;
    let fix = fix_for(trace, i);
    Some(Finding::new(
        trace,
        Rule::DominantSpan,
        Severity::Info,
        &[i],
        Words {
            subject: trace.label(i),
            evidence: format!(
                "{} of its own time is {share:.0}% of the trace's {} on the critical path",
                ms(own),
                ms(total)
            ),
            fix,
        },
        own,
    ))
}
