//! Retry storms: one call sent again and again under one parent.
//!
//! Calls of a parent (client and producer spans) are grouped by name and target
//! (`server.address`, `server.port`, `db.system.name`). A group is a run of attempts when its
//! spans ran one after another and either one of them carries `http.request.resend_count`
//! (the semantic conventions' retry counter) or at least two failed the same way (the same
//! `error.type` or status code). [`RETRY_STORM_ATTEMPTS`] attempts or more make a finding:
//! two attempts are a retry, three are a pattern that multiplies the load on a dependency
//! that is already failing.
//!
//! ```
//! use tracer_collector::insight::lint::{Rule, lint};
//! use tracer_collector::insight::view::{TraceView, ViewSpan};
//!
//! let ms = 1_000_000;
//! let mut spans = vec![ViewSpan::new(1, 0, "api", "GET /cart").timing(0, 40 * ms)];
//! for i in 0..3u64 {
//!     let mut attempt = ViewSpan::new(2 + i, 1, "api", "GET")
//!         .client()
//!         .timing((1 + 12 * i) * ms, 10 * ms)
//!         .attribute("http.response.status_code", 503)
//!         .attribute("http.request.resend_count", i)
//!         .failed();
//!     spans.push(attempt);
//! }
//! let findings = lint(&TraceView::new(1, spans));
//! assert!(findings.iter().any(|f| f.rule == Rule::RetryStorm));
//! ```

use std::collections::HashMap;

use opentelemetry_semantic_conventions::attribute as semconv;

use super::{Finding, Rule, Severity, Words, ms};
use crate::insight::view::TraceView;

/// Fewest attempts of one call under one parent that make a retry storm.
pub const RETRY_STORM_ATTEMPTS: usize = 3;

/// The retry-storm findings of `trace`.
pub fn find(trace: &TraceView) -> Vec<Finding> {
    let mut out = Vec::new();
    for parent in 0..trace.spans.len() {
        for attempts in attempt_runs(trace, parent) {
            if attempts.len() >= RETRY_STORM_ATTEMPTS {
                out.push(finding(trace, parent, &attempts));
            }
        }
    }
    out
}

/// Resend count of span `i`, if it has one.
pub(crate) fn resend_count(trace: &TraceView, i: usize) -> Option<u64> {
    trace.spans[i]
        .attr(semconv::HTTP_REQUEST_RESEND_COUNT)
        .and_then(|v| v.parse().ok())
}

/// The runs of attempts of one call among `parent`'s children (each in start order).
pub(crate) fn attempt_runs(trace: &TraceView, parent: usize) -> Vec<Vec<usize>> {
    // (name, server.address, server.port, db.system.name) -> the calls.
    type CallKey<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let mut groups: HashMap<CallKey<'_>, Vec<usize>> = HashMap::new();
    for &c in trace.children(parent) {
        let s = &trace.spans[c];
        if !s.is_call() {
            continue;
        }
        groups
            .entry((
                s.name.as_str(),
                s.attr(semconv::SERVER_ADDRESS),
                s.attr(semconv::SERVER_PORT),
                s.db_system(),
            ))
            .or_default()
            .push(c);
    }
    let mut runs: Vec<Vec<usize>> = groups
        .into_values()
        .filter(|spans| spans.len() >= 2)
        .filter(|spans| {
            spans
                .windows(2)
                .all(|w| trace.spans[w[1]].start_ns >= trace.spans[w[0]].end_ns())
        })
        .filter(|spans| {
            let resent = spans
                .iter()
                .any(|&i| resend_count(trace, i).unwrap_or(0) > 0);
            let mut failures: HashMap<String, usize> = HashMap::new();
            for &i in spans {
                if trace.spans[i].failing() {
                    *failures.entry(trace.spans[i].failure()).or_default() += 1;
                }
            }
            resent || failures.values().any(|&n| n >= 2)
        })
        .collect();
    runs.sort_by_key(|r| r[0]);
    runs
}

/// What a call calls: the service of the server span under it, else `server.address`, else
/// the database system, else the call itself.
pub(crate) fn target_of(trace: &TraceView, call: usize) -> String {
    let span = &trace.spans[call];
    if let Some(&callee) = trace
        .children(call)
        .iter()
        .find(|&&c| trace.spans[c].service != span.service)
    {
        return trace.spans[callee].service.clone();
    }
    let address =
        span.attr(semconv::SERVER_ADDRESS)
            .map(|address| match span.attr(semconv::SERVER_PORT) {
                Some(port) => format!("{address}:{port}"),
                None => address.to_owned(),
            });
    match (span.db_system(), address) {
        (Some(system), Some(address)) => format!("{system} at {address}"),
        (Some(system), None) => system.to_owned(),
        (None, Some(address)) => address,
        (None, None) => trace.label(call),
    }
}

fn finding(trace: &TraceView, parent: usize, attempts: &[usize]) -> Finding {
    let spans = |i: usize| &trace.spans[i];
    let failed: Vec<usize> = attempts
        .iter()
        .copied()
        .filter(|&i| spans(i).failing())
        .collect();
    let mut failures: Vec<String> = Vec::new();
    for &i in &failed {
        let f = spans(i).failure();
        if !failures.contains(&f) {
            failures.push(f);
        }
    }
    let last = *attempts.last().unwrap_or(&attempts[0]);
    let outcome = if spans(last).failing() {
        "every attempt failed"
    } else {
        "the last attempt succeeded"
    };
    let max_resend = attempts
        .iter()
        .filter_map(|&i| resend_count(trace, i))
        .max();
    let counter = max_resend.map_or_else(String::new, |n| {
        format!(", http.request.resend_count up to {n}")
    });
    let lost: u64 = failed.iter().map(|&i| spans(i).duration_ns).sum();
    let first = spans(attempts[0]).start_ns;
    let elapsed = spans(last).end_ns().saturating_sub(first);
    let target = target_of(trace, attempts[0]);
    let words = Words {
        subject: format!(
            "{} sent {} {} times under {}",
            spans(attempts[0]).service,
            spans(attempts[0]).name,
            attempts.len(),
            trace.label(parent)
        ),
        evidence: format!(
            "{} of {} attempts failed ({}){counter}, {outcome}, {} spent from first to last",
            failed.len(),
            attempts.len(),
            failures.join(", "),
            ms(elapsed)
        ),
        fix: format!(
            "fix why {target} fails, and cap the attempts with backoff and jitter so that a \
             failing {target} is not called {} times per request",
            attempts.len()
        ),
    };
    Finding::new(
        trace,
        Rule::RetryStorm,
        Severity::Warning,
        attempts,
        words,
        lost,
    )
}
