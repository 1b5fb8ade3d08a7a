//! Where each failure went: swallowed, handled or propagated.
//!
//! A span *fails* when it is red (error status) or reports a failed outcome without being red
//! (a server's 404, a gRPC `NOT_FOUND`, an `error.type`): see
//! [`ViewSpan::failing`](crate::insight::view::ViewSpan::failing). Failing spans form chains
//! from where a failure started (the *origin*: a failing span with no failing child) up
//! through failing ancestors to the chain's *top*. Only chains with at least one red span are
//! read. Then, looking at the top's parent:
//! - none, or the trace's root when that root is not a server or consumer span (a script, a
//!   test, a job: it has no caller to answer): **propagated** — the failure is the outcome of
//!   the traced work; the finding names the origin, where to start looking;
//! - a parent that ended well, with a later sibling of the top that ended well and does work
//!   (a call, or a span with children): **handled** — a retry of the same operation or a
//!   fallback (the database after a failed cache read);
//! - a parent that ended well with nothing after the failure taking over: **swallowed** — the
//!   caller was told all was well while part of the work failed.
//!
//! Failures that end at the same place are reported once: the three timeouts of a cache read
//! before the fallback are one *handled* finding.
//!
//! ```
//! use tracer_collector::insight::lint::{Rule, lint};
//! use tracer_collector::insight::view::{TraceView, ViewSpan};
//!
//! let ms = 1_000_000;
//! let spans = vec![
//!     ViewSpan::new(1, 0, "shop", "GET /product").kind(2).timing(0, 20 * ms),
//!     ViewSpan::new(2, 1, "shop", "GET").client().timing(ms, ms)
//!         .attribute("db.system.name", "redis").attribute("error.type", "io").failed(),
//!     ViewSpan::new(3, 1, "shop", "SELECT products").client().timing(3 * ms, 5 * ms)
//!         .attribute("db.system.name", "mysql"),
//! ];
//! let findings = lint(&TraceView::new(1, spans));
//! let handled = findings.iter().find(|f| f.rule == Rule::ErrorHandled).unwrap();
//! assert!(handled.message.contains("went on with shop SELECT products"));
//! assert!(!findings.iter().any(|f| f.rule == Rule::ErrorSwallowed));
//! ```

use std::collections::BTreeMap;

use super::{Finding, Rule, Severity, Words, ms, times};
use crate::insight::view::TraceView;
use crate::store::batch::{KIND_CONSUMER, KIND_SERVER};

/// Where the failure of one chain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    /// At the top of the trace.
    Propagated,
    /// A later sibling (this span) took over.
    Handled(usize),
    /// Nothing took over.
    Swallowed,
}

/// The error findings of `trace`.
pub fn find(trace: &TraceView) -> Vec<Finding> {
    let n = trace.spans.len();
    let failing: Vec<bool> = trace.spans.iter().map(|s| s.failing()).collect();
    // Per failing span: the top of its chain, whether the chain from the top down to it has a
    // red span, and its distance from the top. Parents come before children in a walk.
    let mut top = vec![usize::MAX; n];
    let mut red = vec![false; n];
    let mut hops = vec![0usize; n];
    for (i, _) in trace.walk() {
        if !failing[i] {
            continue;
        }
        match trace.parent(i).filter(|&p| failing[p]) {
            Some(p) => {
                top[i] = top[p];
                red[i] = red[p] || trace.spans[i].error;
                hops[i] = hops[p] + 1;
            }
            None => {
                top[i] = i;
                red[i] = trace.spans[i].error;
            }
        }
    }
    // Origins: failing spans without a failing child, on a chain with a red span.
    let mut by_top: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        if failing[i] && red[i] && !trace.children(i).iter().any(|&c| failing[c]) {
            by_top.entry(top[i]).or_default().push(i);
        }
    }
    // Chains that end at one parent the same way are one finding.
    let mut ends: BTreeMap<(End, Option<usize>, String), Vec<usize>> = BTreeMap::new();
    let mut origins_of: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (t, origins) in by_top {
        let end = end_of(trace, t, &failing);
        let parent = trace.parent(t);
        let key = match end {
            End::Propagated => (end, Some(t), String::new()),
            _ => (end, parent, trace.label(t)),
        };
        ends.entry(key).or_default().push(t);
        origins_of.insert(t, origins);
    }
    let mut out = Vec::new();
    for ((end, parent, _), tops) in ends {
        let origins: Vec<usize> = tops
            .iter()
            .flat_map(|t| origins_of.get(t).into_iter().flatten().copied())
            .collect();
        out.push(match (end, parent) {
            (End::Propagated, _) => propagated(trace, tops[0], &origins, &hops),
            (End::Handled(by), Some(p)) => handled(trace, p, &tops, by),
            (_, Some(p)) => swallowed(trace, p, &tops),
            (_, None) => continue,
        });
    }
    out
}

fn end_of(trace: &TraceView, t: usize, failing: &[bool]) -> End {
    let Some(p) = trace.parent(t) else {
        return End::Propagated;
    };
    let parent = &trace.spans[p];
    if trace.parent(p).is_none() && parent.kind != KIND_SERVER && parent.kind != KIND_CONSUMER {
        return End::Propagated;
    }
    let failed_end = trace.spans[t].end_ns();
    let taker = trace.children(p).iter().copied().find(|&c| {
        c != t
            && trace.spans[c].start_ns >= failed_end
            && !failing[c]
            && (trace.spans[c].is_call() || !trace.children(c).is_empty())
    });
    taker.map_or(End::Swallowed, End::Handled)
}

fn propagated(trace: &TraceView, top: usize, origins: &[usize], hops: &[usize]) -> Finding {
    let first = origins[0];
    let origin = &trace.spans[first];
    let mut labels: Vec<String> = Vec::new();
    for &o in origins {
        let l = trace.label(o);
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    let subject = match labels.as_slice() {
        [one] => times(origins.len(), one),
        _ => format!("{} spans ({})", origins.len(), labels.join(", ")),
    };
    let evidence = if first == top {
        format!("it failed ({}) at the top of the trace", origin.failure())
    } else {
        format!(
            "the failure ({}) went up {} span{} to {} ({})",
            origin.failure(),
            hops[first],
            if hops[first] == 1 { "" } else { "s" },
            trace.label(top),
            trace.spans[top].failure()
        )
    };
    let mut spans = origins.to_vec();
    spans.push(top);
    Finding::new(
        trace,
        Rule::ErrorPropagated,
        Severity::Info,
        &spans,
        Words {
            subject,
            evidence,
            fix: format!(
                "start from {}: it is where the failure began, the spans above only carried it",
                trace.label(first)
            ),
        },
        trace.spans[top].duration_ns,
    )
}

fn handled(trace: &TraceView, parent: usize, tops: &[usize], by: usize) -> Finding {
    let failed = &trace.spans[tops[0]];
    let taker = &trace.spans[by];
    let how = if taker.name == failed.name && taker.service == failed.service {
        "retried it"
    } else {
        "fell back"
    };
    let cost: u64 = tops.iter().map(|&t| trace.spans[t].duration_ns).sum();
    let mut spans = tops.to_vec();
    spans.push(by);
    Finding::new(
        trace,
        Rule::ErrorHandled,
        Severity::Info,
        &spans,
        Words {
            subject: format!(
                "{} under {}",
                times(tops.len(), &trace.label(tops[0])),
                trace.label(parent)
            ),
            evidence: format!(
                "it failed ({}) and {} {how}: it went on with {} and ended without error",
                failed.failure(),
                trace.label(parent),
                trace.label(by)
            ),
            fix: format!(
                "nothing is lost, but the failed attempts cost {}: if this is frequent, make \
                 {} reliable or let it fail faster",
                ms(cost),
                trace.label(tops[0])
            ),
        },
        cost,
    )
}

fn swallowed(trace: &TraceView, parent: usize, tops: &[usize]) -> Finding {
    let failed = &trace.spans[tops[0]];
    Finding::new(
        trace,
        Rule::ErrorSwallowed,
        Severity::Warning,
        tops,
        Words {
            subject: format!(
                "{} under {}",
                times(tops.len(), &trace.label(tops[0])),
                trace.label(parent)
            ),
            evidence: format!(
                "it failed ({}) but {} ended without error and with no retry or fallback after it",
                failed.failure(),
                trace.label(parent)
            ),
            fix: format!(
                "record the failure on {} (an error status or error.type) or handle it \
                 explicitly, so that its caller learns that part of the work failed",
                trace.label(parent)
            ),
        },
        tops.iter().map(|&t| trace.spans[t].duration_ns).sum(),
    )
}
