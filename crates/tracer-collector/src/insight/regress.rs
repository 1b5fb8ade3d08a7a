//! What got slower: two sets of traces compared per operation path.
//!
//! Every span of a trace has an *operation path*: the `service operation` of each span from the
//! root down to it, joined by ` / ` ([`operation_paths`]; past [`MAX_PATH_DEPTH`] levels the
//! middle is written `…`). The spans of a set of traces give, per path, a sample of durations
//! ([`Samples`]); two sets (two time windows, two lists of traces such as two uploaded files,
//! two demo runs) are compared path by path ([`compare`]): the count, p50 and p95 of each side
//! (quantiles interpolated between the nearest ranks, as the metrics API computes them), the
//! change, and a representative pair of traces (on each side, the trace whose span is nearest
//! that side's median, the lowest trace id among equals) to open side by side.
//!
//! **Significance.** A path is *slower* when its p50 or its p95 grew by at least
//! [`Significance::min_ratio`] (default 20%) and by at least [`Significance::min_delta_ms`]
//! (default 1 ms), and, when both sides have [`Significance::min_test_samples`] (default 5)
//! samples or more, a one-sided Mann–Whitney U test (normal approximation with tie and
//! continuity corrections) says that the later durations are larger with p below
//! [`Significance::alpha`] (default 0.05). *Faster* is the mirror image. The rest is
//! *unchanged* and only counted. Slower paths come biggest p95 increase first (then p50).
//! With fewer samples than the test needs (one trace per side, say) only the two thresholds
//! decide: pick them above the run-to-run noise ([`Significance::for_single_runs`]).
//!
//! ```
//! use tracer_collector::insight::regress::{Samples, Significance, add_trace, compare};
//! use tracer_collector::insight::view::{TraceView, ViewSpan};
//!
//! let ms = 1_000_000;
//! let trace = |id: u128, db_ms: u64| {
//!     TraceView::new(id, vec![
//!         ViewSpan::new(1, 0, "shop", "GET /cart").timing(0, (db_ms + 5) * ms),
//!         ViewSpan::new(2, 1, "shop", "SELECT carts").timing(ms, db_ms * ms),
//!     ])
//! };
//! let (mut before, mut after) = (Samples::new(), Samples::new());
//! for i in 0..10 {
//!     add_trace(&mut before, &trace(i, 10 + (i as u64 % 3)));
//!     add_trace(&mut after, &trace(100 + i, 40 + (i as u64 % 3)));
//! }
//! let result = compare(&before, &after, &Significance::default());
//! // The query got 30 ms slower, and so did the request around it.
//! assert_eq!(result.slower[0].path, "shop GET /cart");
//! assert_eq!(result.slower[1].path, "shop GET /cart / shop SELECT carts");
//! assert_eq!(result.slower[1].p50_delta_ms, 30.0);
//! assert_eq!(result.unchanged, 0);
//! ```

use std::collections::BTreeMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::view::TraceView;
use crate::query::convert::{span_id_hex, trace_id_hex};

/// Levels of an operation path written out; deeper spans get `… /` before their own label.
pub const MAX_PATH_DEPTH: usize = 16;
/// Most samples kept per path and side (the first ones met); the rest are counted out.
pub const MAX_SAMPLES_PER_PATH: usize = 10_000;
/// Most paths kept per side.
pub const MAX_PATHS: usize = 5_000;
/// Most changes listed per direction.
pub const MAX_CHANGES: usize = 100;

/// One span's duration, with where to find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// Duration, nanoseconds.
    pub duration_ns: u64,
    /// Its trace.
    pub trace_id: u128,
    /// The span.
    pub span_id: u64,
}

/// Durations per operation path.
pub type Samples = BTreeMap<String, Vec<Sample>>;

/// The operation path of every span of `trace` (see the module docs), depth-first.
pub fn operation_paths(trace: &TraceView) -> Vec<(String, usize)> {
    let mut out = Vec::with_capacity(trace.spans.len());
    let mut stack: Vec<(usize, Rc<str>, usize)> = trace
        .roots()
        .iter()
        .rev()
        .map(|&r| (r, Rc::from(""), 0))
        .collect();
    while let Some((i, prefix, depth)) = stack.pop() {
        let label = trace.label(i);
        let path = match depth {
            0 => label,
            d if d < MAX_PATH_DEPTH => format!("{prefix} / {label}"),
            _ => format!("{prefix} / … / {label}"),
        };
        let child_prefix: Rc<str> = if depth < MAX_PATH_DEPTH {
            Rc::from(path.as_str())
        } else {
            prefix.clone()
        };
        for &k in trace.children(i).iter().rev() {
            stack.push((k, child_prefix.clone(), depth + 1));
        }
        out.push((path, i));
    }
    out
}

/// Adds the duration of every span of `trace` to `samples`, under its operation path, within
/// [`MAX_PATHS`] and [`MAX_SAMPLES_PER_PATH`].
pub fn add_trace(samples: &mut Samples, trace: &TraceView) {
    for (path, i) in operation_paths(trace) {
        let span = &trace.spans[i];
        let sample = Sample {
            duration_ns: span.duration_ns,
            trace_id: trace.trace_id,
            span_id: span.span_id,
        };
        add(samples, path, sample);
    }
}

/// Adds one sample under `key`, within the bounds of [`add_trace`].
pub fn add(samples: &mut Samples, key: String, sample: Sample) {
    if samples.len() >= MAX_PATHS && !samples.contains_key(&key) {
        return;
    }
    let list = samples.entry(key).or_default();
    if list.len() < MAX_SAMPLES_PER_PATH {
        list.push(sample);
    }
}

/// When a change counts (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Significance {
    /// Least ratio of the later quantile to the earlier one (1.2 = 20% slower).
    pub min_ratio: f64,
    /// Least growth of the quantile, in milliseconds.
    pub min_delta_ms: f64,
    /// Largest p-value of the Mann–Whitney test.
    pub alpha: f64,
    /// Fewest samples on each side for the test to be applied.
    pub min_test_samples: usize,
}

impl Default for Significance {
    fn default() -> Self {
        Significance {
            min_ratio: 1.2,
            min_delta_ms: 1.0,
            alpha: 0.05,
            min_test_samples: 5,
        }
    }
}

impl Significance {
    /// For one trace per path and side (two demo runs): 50% and 5 ms, above the noise of a
    /// shared machine, where a few milliseconds come and go between runs.
    pub fn for_single_runs() -> Self {
        Significance {
            min_ratio: 1.5,
            min_delta_ms: 5.0,
            ..Significance::default()
        }
    }

    /// The rule in words, for answers and pages.
    pub fn describe(&self) -> String {
        format!(
            "slower: p50 or p95 up by at least {:.0}% and {} ms, and, with {} or more samples \
             on each side, a one-sided Mann-Whitney U test with p < {}",
            (self.min_ratio - 1.0) * 100.0,
            self.min_delta_ms,
            self.min_test_samples,
            self.alpha
        )
    }
}

/// Count and quantiles of one side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Distribution {
    /// Samples.
    pub count: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
}

/// A trace to open for one side of a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Example {
    /// Trace id, as Jaeger prints it.
    #[serde(rename = "traceID")]
    pub trace_id: String,
    /// The span of the path in it.
    #[serde(rename = "spanID")]
    pub span_id: String,
    /// Its duration, ms.
    pub duration_ms: f64,
}

/// One path whose latency changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The operation path.
    pub path: String,
    /// The earlier side.
    pub before: Distribution,
    /// The later side.
    pub after: Distribution,
    /// p50 after minus before, ms.
    pub p50_delta_ms: f64,
    /// p95 after minus before, ms.
    pub p95_delta_ms: f64,
    /// The Mann–Whitney p-value, when both sides had enough samples.
    pub p_value: Option<f64>,
    /// A typical trace of the earlier side (its span nearest the earlier median).
    pub example_before: Example,
    /// A typical trace of the later side.
    pub example_after: Example,
}

/// The comparison of two sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    /// Paths that got slower, biggest p95 increase first (at most [`MAX_CHANGES`]).
    pub slower: Vec<Change>,
    /// Paths that got faster, biggest p95 decrease first (at most [`MAX_CHANGES`]).
    pub faster: Vec<Change>,
    /// Paths on both sides without a significant change.
    pub unchanged: usize,
    /// Paths seen only before (at most [`MAX_CHANGES`]).
    pub only_before: Vec<String>,
    /// Paths seen only after (at most [`MAX_CHANGES`]).
    pub only_after: Vec<String>,
    /// The significance rule applied, in words.
    pub rule: String,
}

/// The `q` quantile (0..=1) of `values` in ms, linearly interpolated between nearest ranks.
fn quantile(sorted_ms: &[f64], q: f64) -> f64 {
    if sorted_ms.is_empty() {
        return 0.0;
    }
    let h = (sorted_ms.len() - 1) as f64 * q;
    let lower = h.floor() as usize;
    let low = sorted_ms[lower];
    match sorted_ms.get(lower + 1) {
        Some(&high) => low + (h - lower as f64) * (high - low),
        None => low,
    }
}

fn distribution(sorted_ms: &[f64]) -> Distribution {
    Distribution {
        count: sorted_ms.len(),
        p50_ms: quantile(sorted_ms, 0.5),
        p95_ms: quantile(sorted_ms, 0.95),
    }
}

fn sorted_ms(samples: &[Sample]) -> Vec<f64> {
    let mut v: Vec<f64> = samples.iter().map(|s| s.duration_ns as f64 / 1e6).collect();
    v.sort_by(f64::total_cmp);
    v
}

fn example(samples: &[Sample], target_ms: f64) -> Example {
    let best = samples
        .iter()
        .min_by(|a, b| {
            let d = |s: &Sample| (s.duration_ns as f64 / 1e6 - target_ms).abs();
            // Ties go to the lowest trace id, so the pair does not depend on reading order.
            d(a).total_cmp(&d(b))
                .then((a.trace_id, a.span_id).cmp(&(b.trace_id, b.span_id)))
        })
        .copied()
        .unwrap_or(Sample {
            duration_ns: 0,
            trace_id: 0,
            span_id: 0,
        });
    Example {
        trace_id: trace_id_hex(best.trace_id),
        span_id: span_id_hex(best.span_id),
        duration_ms: best.duration_ns as f64 / 1e6,
    }
}

/// The standard normal upper tail, `P(Z > z)` (Abramowitz and Stegun 7.1.26, error < 1.5e-7).
fn normal_upper_tail(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 {
        erfc / 2.0
    } else {
        1.0 - erfc / 2.0
    }
}

/// One-sided Mann–Whitney U: the p-value of "`later` is stochastically larger than
/// `earlier`", both sorted.
pub fn mann_whitney_greater(earlier: &[f64], later: &[f64]) -> f64 {
    let (n1, n2) = (earlier.len(), later.len());
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    // Merge, rank with ties averaged, sum the ranks of `later`.
    let mut all: Vec<(f64, bool)> = earlier
        .iter()
        .map(|&v| (v, false))
        .chain(later.iter().map(|&v| (v, true)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = all.len();
    let mut rank_sum_later = 0.0;
    let mut ties = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        for item in &all[i..=j] {
            if item.1 {
                rank_sum_later += rank;
            }
        }
        i = j + 1;
    }
    let (n1, n2, n) = (n1 as f64, n2 as f64, n as f64);
    let u = rank_sum_later - n2 * (n2 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if variance <= 0.0 {
        return if u > mean { 0.0 } else { 1.0 };
    }
    normal_upper_tail((u - mean - 0.5) / variance.sqrt())
}

/// Compares `before` and `after` path by path under `rule` (see the module docs).
pub fn compare(before: &Samples, after: &Samples, rule: &Significance) -> Comparison {
    let mut slower = Vec::new();
    let mut faster = Vec::new();
    let mut unchanged = 0;
    for (path, b) in before {
        let Some(a) = after.get(path) else {
            continue;
        };
        let (bs, as_) = (sorted_ms(b), sorted_ms(a));
        let (db, da) = (distribution(&bs), distribution(&as_));
        let grew = |from: f64, to: f64| {
            to - from >= rule.min_delta_ms && to >= from * rule.min_ratio && to > from
        };
        let tested = bs.len() >= rule.min_test_samples && as_.len() >= rule.min_test_samples;
        let change = |p_value| Change {
            path: path.clone(),
            before: db,
            after: da,
            p50_delta_ms: da.p50_ms - db.p50_ms,
            p95_delta_ms: da.p95_ms - db.p95_ms,
            p_value,
            example_before: example(b, db.p50_ms),
            example_after: example(a, da.p50_ms),
        };
        if grew(db.p50_ms, da.p50_ms) || grew(db.p95_ms, da.p95_ms) {
            let p = tested.then(|| mann_whitney_greater(&bs, &as_));
            if p.is_none_or(|p| p < rule.alpha) {
                slower.push(change(p));
                continue;
            }
        } else if grew(da.p50_ms, db.p50_ms) || grew(da.p95_ms, db.p95_ms) {
            let p = tested.then(|| mann_whitney_greater(&as_, &bs));
            if p.is_none_or(|p| p < rule.alpha) {
                faster.push(change(p));
                continue;
            }
        }
        unchanged += 1;
    }
    let by = |x: &Change, y: &Change| {
        y.p95_delta_ms
            .abs()
            .total_cmp(&x.p95_delta_ms.abs())
            .then(y.p50_delta_ms.abs().total_cmp(&x.p50_delta_ms.abs()))
            .then(x.path.cmp(&y.path))
    };
    slower.sort_by(by);
    faster.sort_by(by);
    slower.truncate(MAX_CHANGES);
    faster.truncate(MAX_CHANGES);
    let only = |x: &Samples, y: &Samples| -> Vec<String> {
        x.keys()
            .filter(|k| !y.contains_key(*k))
            .take(MAX_CHANGES)
            .cloned()
            .collect()
    };
    Comparison {
        slower,
        faster,
        unchanged,
        only_before: only(before, after),
        only_after: only(after, before),
        rule: rule.describe(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_paths_stay_short_in_a_deep_chain() {
        use crate::insight::view::ViewSpan;
        let chain: Vec<_> = (1..=1000u64)
            .map(|i| ViewSpan::new(i, i - 1, "svc", &format!("op{i}")).timing(i, 10_000 - i))
            .collect();
        let paths = operation_paths(&TraceView::new(1, chain));
        assert_eq!(paths.len(), 1000);
        let longest = paths.iter().map(|(p, _)| p.matches(" / ").count()).max();
        assert_eq!(
            longest,
            Some(MAX_PATH_DEPTH + 1),
            "16 levels, the ellipsis, the span"
        );
        assert!(paths.iter().any(|(p, _)| p.ends_with("/ … / svc op1000")));
    }

    #[test]
    fn quantiles_interpolate_like_the_metrics_api() {
        assert_eq!(quantile(&[100.0, 200.0], 0.95), 195.0);
        assert_eq!(quantile(&[50.0], 0.5), 50.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
    }

    #[test]
    fn mann_whitney_separates_shifted_samples_and_not_equal_ones() {
        let a: Vec<f64> = (0..10).map(|i| 10.0 + f64::from(i)).collect();
        let b: Vec<f64> = (0..10).map(|i| 30.0 + f64::from(i)).collect();
        assert!(mann_whitney_greater(&a, &b) < 0.001);
        assert!(mann_whitney_greater(&b, &a) > 0.99);
        let p = mann_whitney_greater(&a, &a);
        assert!(p > 0.4, "{p}");
        // All tied: no evidence either way.
        assert_eq!(mann_whitney_greater(&[5.0; 6], &[5.0; 6]), 1.0);
    }

    #[test]
    fn a_noisy_small_shift_is_not_significant() {
        // Overlapping samples whose medians differ by 25%: the test keeps them unchanged.
        let mut before = Samples::new();
        let mut after = Samples::new();
        let ms = |v: u64| Sample {
            duration_ns: v * 1_000_000,
            trace_id: 1,
            span_id: 1,
        };
        for v in [10, 30, 12, 28, 15, 25] {
            add(&mut before, "p".into(), ms(v));
        }
        for v in [13, 31, 15, 29, 19, 26] {
            add(&mut after, "p".into(), ms(v));
        }
        let c = compare(&before, &after, &Significance::default());
        assert!(c.slower.is_empty(), "{c:?}");
        assert_eq!(c.unchanged, 1);
    }
}
