//! The trace linter: patterns in one trace that cost time or hide failures, each reported as a
//! [`Finding`] that names the spans, gives the evidence and says what to do, in one sentence.
//!
//! The rules, one module each:
//! - [`queries`] — **N+1 queries**: the same statement shape (literals, numbers and `IN`
//!   lists folded, see [`queries::statement_shape`]) run [`queries::N_PLUS_ONE_MIN`] times or
//!   more under one parent, without error. One query for a list and one per item is the
//!   classic; a single batched query is not flagged.
//! - [`sequential`] — **sequential calls**: sibling calls of one kind (the same database
//!   system, or service calls) that run one after another with small gaps while nothing
//!   suggests they depend on each other, so they could run concurrently. Parents that already
//!   run calls concurrently, retries, fallbacks, writes and repeats are left out; the module
//!   docs give each rule and why.
//! - [`retries`] — **retry storms**: the same call sent [`retries::RETRY_STORM_ATTEMPTS`]
//!   times or more under one parent, told by `http.request.resend_count` or by repeated
//!   identical failures.
//! - [`errors`] — **errors**: where each failure went. *Swallowed*: a failed span under a
//!   parent that ended well with no retry or fallback after it (a warning). *Handled*: a later
//!   sibling took over (a retry that succeeded, the database after a failed cache read).
//!   *Propagated*: the failure went up to the top of the trace; the finding names where it
//!   started.
//! - [`critical_path`] — **the dominant span**: the span whose own time is at least
//!   [`critical_path::DOMINANT_SHARE`] of the trace's duration on its critical path.
//!
//! Findings come back warnings first, then by the time at stake. Work and output are bounded:
//! every rule is one pass over the spans (plus a sort of each parent's children), at most
//! [`MAX_FINDINGS`] findings are kept and each lists at most [`MAX_FINDING_SPANS`] spans.
//!
//! ```
//! use tracer_collector::insight::lint::{Rule, lint};
//! use tracer_collector::insight::view::{TraceView, ViewSpan};
//!
//! let ms = 1_000_000;
//! let mut spans = vec![ViewSpan::new(1, 0, "shop", "GET /orders").timing(0, 50 * ms)];
//! for i in 0..4u64 {
//!     spans.push(
//!         ViewSpan::new(10 + i, 1, "shop", "SELECT items")
//!             .client()
//!             .timing((1 + 10 * i) * ms, 8 * ms)
//!             .attribute("db.system.name", "mysql")
//!             .attribute("db.query.text", format!("SELECT * FROM items WHERE order_id = {i}")),
//!     );
//! }
//! let findings = lint(&TraceView::new(1, spans));
//! assert_eq!(findings[0].rule, Rule::NPlusOne);
//! assert!(findings[0].message.starts_with("N+1 queries: 4 × shop SELECT items under shop GET /orders"));
//! ```

pub mod critical_path;
pub mod errors;
pub mod queries;
pub mod retries;
pub mod sequential;

use serde::{Deserialize, Serialize};

use super::view::TraceView;

/// Most findings reported for one trace.
pub const MAX_FINDINGS: usize = 50;
/// Most spans one finding lists (its text gives the full count).
pub const MAX_FINDING_SPANS: usize = 20;

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The same query shape repeated under one parent.
    NPlusOne,
    /// Calls that ran one after another and could run concurrently.
    SequentialCalls,
    /// The same call retried many times.
    RetryStorm,
    /// A failure under a parent that ended well, with nothing taking over.
    ErrorSwallowed,
    /// A failure that a later sibling took over (retry or fallback).
    ErrorHandled,
    /// A failure carried up to the top of the trace.
    ErrorPropagated,
    /// The span that takes most of the critical path.
    DominantSpan,
}

impl Rule {
    /// The rule's name as served (`n-plus-one`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Rule::NPlusOne => "n-plus-one",
            Rule::SequentialCalls => "sequential-calls",
            Rule::RetryStorm => "retry-storm",
            Rule::ErrorSwallowed => "error-swallowed",
            Rule::ErrorHandled => "error-handled",
            Rule::ErrorPropagated => "error-propagated",
            Rule::DominantSpan => "dominant-span",
        }
    }

    /// The heading its message starts with.
    pub fn title(self) -> &'static str {
        match self {
            Rule::NPlusOne => "N+1 queries",
            Rule::SequentialCalls => "Sequential calls",
            Rule::RetryStorm => "Retry storm",
            Rule::ErrorSwallowed => "Error swallowed",
            Rule::ErrorHandled => "Error handled",
            Rule::ErrorPropagated => "Error propagated",
            Rule::DominantSpan => "Dominant span",
        }
    }
}

/// How much a finding asks for attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth fixing: time lost or a failure hidden.
    Warning,
    /// Explains the trace: where an error went, where the time went.
    Info,
}

/// One finding of the linter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule that found it.
    pub rule: Rule,
    /// Warning or info.
    pub severity: Severity,
    /// Span ids (16 hex digits) it is about, the most telling first; at most
    /// [`MAX_FINDING_SPANS`].
    pub spans: Vec<String>,
    /// The spans in words (`server3 SELECT demo_products under server3 ListProducts`).
    pub subject: String,
    /// What the trace shows.
    pub evidence: String,
    /// What to do about it.
    pub fix: String,
    /// The one sentence: `{title}: {subject}: {evidence}; {fix}.`
    pub message: String,
    /// Nanoseconds at stake (what a fix could save, or the time the pattern took); orders
    /// findings of one severity.
    pub impact_ns: u64,
}

impl Finding {
    /// A finding; `spans` are indexes into `trace`'s spans.
    pub(crate) fn new(
        trace: &TraceView,
        rule: Rule,
        severity: Severity,
        spans: &[usize],
        words: Words,
        impact_ns: u64,
    ) -> Self {
        let Words {
            subject,
            evidence,
            fix,
        } = words;
        let message = format!("{}: {subject}: {evidence}; {fix}.", rule.title());
        Finding {
            rule,
            severity,
            spans: spans
                .iter()
                .take(MAX_FINDING_SPANS)
                .map(|&i| trace.id_hex(i))
                .collect(),
            subject,
            evidence,
            fix,
            message,
            impact_ns,
        }
    }
}

/// The text of a finding.
pub(crate) struct Words {
    /// The spans in words.
    pub(crate) subject: String,
    /// What the trace shows.
    pub(crate) evidence: String,
    /// What to do.
    pub(crate) fix: String,
}

/// Runs every rule on `trace`: warnings first, then by [`Finding::impact_ns`], at most
/// [`MAX_FINDINGS`].
pub fn lint(trace: &TraceView) -> Vec<Finding> {
    let n_plus_one = queries::find(trace);
    let mut findings: Vec<Finding> = n_plus_one.iter().map(|g| g.finding.clone()).collect();
    let in_groups: std::collections::HashSet<usize> = n_plus_one
        .iter()
        .flat_map(|g| g.spans.iter().copied())
        .collect();
    findings.extend(sequential::find(trace, &in_groups));
    findings.extend(retries::find(trace));
    findings.extend(errors::find(trace));
    findings.extend(critical_path::find(trace));
    findings.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(b.impact_ns.cmp(&a.impact_ns))
    });
    findings.truncate(MAX_FINDINGS);
    findings
}

/// Milliseconds of `ns`, as text: `0.42 ms`, `12.3 ms`, `1520 ms`.
pub(crate) fn ms(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// `n × label` or `label` for one.
pub(crate) fn times(n: usize, label: &str) -> String {
    if n == 1 {
        label.to_owned()
    } else {
        format!("{n} × {label}")
    }
}
