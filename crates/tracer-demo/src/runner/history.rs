//! The runner's memory of its last run, and what got slower since.
//!
//! After each run, `tracer-demo run` writes the durations of every span of every scenario's
//! trace, keyed by scenario and operation path (`service operation / service operation ...`
//! from the root, as `tracer_collector::insight::regress` builds them), to a JSON file
//! ([`RunRecord`]): by default `tracer-demo-last-run.json` next to the `tracer-demo`
//! executable (so `target/release/` or `target/debug/`), or the file named by `--history` or
//! [`HISTORY_ENV`]. The next run reads it first and prints the operations that got slower,
//! biggest p95 increase first, compared by `regress::compare` with
//! [`Significance::for_single_runs`] (50% and 5 ms: one trace per scenario and side, so the
//! thresholds, not a statistical test, have to stay above the run-to-run noise).
//!
//! The first request of a run pays for connection set-up (tens of milliseconds at times), so
//! the first scenario played can show up as slower when the previous run's first scenario was
//! another one; compare runs of the same scenarios in the same order.
//!
//! A file that cannot be read (missing, too large, another format version, bad JSON) is not an
//! error: the runner says why and starts afresh.
//!
//! ```
//! use tracer_demo::runner::history::{RunRecord, slower_report};
//!
//! let mut before = RunRecord::default();
//! before.add("batched", "0af7", "client internal batched", 10.0);
//! let mut after = RunRecord::default();
//! after.add("batched", "0bf8", "client internal batched", 60.0);
//! let report = slower_report(&before, &after);
//! assert!(report.contains("batched: client internal batched  p50 10.0 -> 60.0 ms (+50.0 ms)"));
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use tracer_collector::insight::regress::{self, Sample, Samples, Significance};
use tracer_collector::insight::view::{TraceView, ViewSpan};
use tracer_collector::query::model::Trace;

/// Environment variable naming the history file (the `--history` flag wins).
pub const HISTORY_ENV: &str = "TRACER_DEMO_HISTORY";
/// File name of the history next to the executable.
pub const DEFAULT_FILE: &str = "tracer-demo-last-run.json";
/// Version of the file's format.
pub const FORMAT_VERSION: u32 = 1;
/// Largest history file read.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Most slower operations printed.
pub const MAX_PRINTED: usize = 20;

/// One scenario of a run: its trace and the span durations per operation path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRecord {
    /// The scenario's trace id.
    pub trace_id: String,
    /// Durations in milliseconds, per operation path.
    pub operations: BTreeMap<String, Vec<f64>>,
}

/// What a run leaves for the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// When the run ended, Unix milliseconds.
    pub finished_unix_ms: u64,
    /// Per scenario name.
    pub scenarios: BTreeMap<String, ScenarioRecord>,
}

impl Default for RunRecord {
    fn default() -> Self {
        RunRecord {
            version: FORMAT_VERSION,
            finished_unix_ms: 0,
            scenarios: BTreeMap::new(),
        }
    }
}

/// The history file: `--history` if given, else [`HISTORY_ENV`], else [`DEFAULT_FILE`] next
/// to the running executable.
pub fn history_path(flag: Option<&Path>) -> PathBuf {
    if let Some(path) = flag {
        return path.to_owned();
    }
    if let Some(path) = std::env::var_os(HISTORY_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_owned))
        .unwrap_or_default()
        .join(DEFAULT_FILE)
}

/// A collected Jaeger trace as the insight tools read it (ids, parents, services, names,
/// times): the runner has the trace from the collector's API, not from its store.
pub fn view_of(trace: &Trace) -> TraceView {
    let hex = |s: &str| u64::from_str_radix(s, 16).unwrap_or(0);
    let spans = trace
        .spans
        .iter()
        .map(|span| {
            let parent = span
                .references
                .iter()
                .find(|r| r.ref_type == "CHILD_OF")
                .map_or(0, |r| hex(&r.span_id));
            let service = trace
                .processes
                .get(&span.process_id)
                .map_or("", |p| p.service_name.as_str());
            ViewSpan::new(hex(&span.span_id), parent, service, &span.operation_name).timing(
                span.start_time.saturating_mul(1000),
                span.duration.saturating_mul(1000),
            )
        })
        .collect();
    TraceView::new(
        u128::from_str_radix(&trace.trace_id, 16).unwrap_or(0),
        spans,
    )
}

impl RunRecord {
    /// Adds one duration of `path` in `scenario` (whose trace is `trace_id`).
    pub fn add(&mut self, scenario: &str, trace_id: &str, path: &str, ms: f64) {
        let record = self.scenarios.entry(scenario.to_owned()).or_default();
        record.trace_id = trace_id.to_owned();
        record
            .operations
            .entry(path.to_owned())
            .or_default()
            .push(ms);
    }

    /// Adds every span of a scenario's trace.
    pub fn add_trace(&mut self, scenario: &str, trace: &Trace) {
        let view = view_of(trace);
        for (path, i) in regress::operation_paths(&view) {
            let ms = view.spans[i].duration_ns as f64 / 1e6;
            self.add(scenario, &trace.trace_id, &path, ms);
        }
    }

    /// Reads a record; `Ok(None)` when there is no file.
    pub fn load(path: &Path) -> anyhow::Result<Option<RunRecord>> {
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        if meta.len() > MAX_FILE_BYTES {
            bail!(
                "{} has {} bytes; a run record has at most {MAX_FILE_BYTES}",
                path.display(),
                meta.len()
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let record: RunRecord = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a run record", path.display()))?;
        if record.version != FORMAT_VERSION {
            bail!(
                "{} has format version {}; this runner reads version {FORMAT_VERSION}",
                path.display(),
                record.version
            );
        }
        Ok(Some(record))
    }

    /// Writes the record (to a temporary file first, then renamed over `path`).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
    }

    fn samples(&self) -> Samples {
        let mut samples = Samples::new();
        for (scenario, record) in &self.scenarios {
            let trace_id = u128::from_str_radix(&record.trace_id, 16).unwrap_or(0);
            for (path, durations) in &record.operations {
                for &ms in durations {
                    let sample = Sample {
                        duration_ns: (ms.max(0.0) * 1e6) as u64,
                        trace_id,
                        span_id: 0,
                    };
                    regress::add(&mut samples, format!("{scenario}: {path}"), sample);
                }
            }
        }
        samples
    }
}

/// The operations of `current` slower than in `previous`, as printed by the runner.
pub fn slower_report(previous: &RunRecord, current: &RunRecord) -> String {
    use std::fmt::Write as _;
    let rule = Significance::for_single_runs();
    let result = regress::compare(&previous.samples(), &current.samples(), &rule);
    let mut out = String::new();
    if result.slower.is_empty() {
        let _ = writeln!(
            out,
            "no operation got slower than in the previous run ({} compared; {})",
            result.unchanged + result.faster.len(),
            result.rule
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{} operation(s) slower than in the previous run, biggest first ({}):",
        result.slower.len(),
        result.rule
    );
    for change in result.slower.iter().take(MAX_PRINTED) {
        let _ = writeln!(
            out,
            "  {}  p50 {:.1} -> {:.1} ms ({:+.1} ms), p95 {:.1} -> {:.1} ms, traces {} -> {}",
            change.path,
            change.before.p50_ms,
            change.after.p50_ms,
            change.p50_delta_ms,
            change.before.p95_ms,
            change.after.p95_ms,
            change.example_before.trace_id,
            change.example_after.trace_id
        );
    }
    if result.slower.len() > MAX_PRINTED {
        let _ = writeln!(out, "  ... and {} more", result.slower.len() - MAX_PRINTED);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(entries: &[(&str, &str, f64)]) -> RunRecord {
        let mut r = RunRecord::default();
        for (scenario, path, ms) in entries {
            r.add(scenario, "ab", path, *ms);
        }
        r
    }

    #[test]
    fn the_slowest_change_comes_first_and_small_or_unchanged_ones_are_left_out() {
        let before = record(&[
            ("a", "root", 20.0),
            ("a", "root / db", 10.0),
            ("b", "root", 4.0),
            ("c", "root", 100.0),
        ]);
        let after = record(&[
            ("a", "root", 120.0),
            ("a", "root / db", 110.0),
            ("b", "root", 8.0),   // doubled, but only 4 ms: noise
            ("c", "root", 130.0), // 30%: under the 50% of single runs
        ]);
        let report = slower_report(&before, &after);
        let lines: Vec<&str> = report.lines().collect();
        assert!(lines[0].starts_with("2 operation(s) slower than in the previous run"));
        assert!(
            lines[1].starts_with("  a: root  p50 20.0 -> 120.0 ms (+100.0 ms)"),
            "{report}"
        );
        assert!(
            lines[2].starts_with("  a: root / db  p50 10.0 -> 110.0 ms"),
            "{report}"
        );
        assert_eq!(lines.len(), 3, "{report}");
        assert!(slower_report(&after, &after).starts_with("no operation got slower"));
    }

    #[test]
    fn unreadable_records_say_why() {
        let dir = std::env::temp_dir().join(format!("tracer-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("none.json");
        assert!(RunRecord::load(&missing).unwrap().is_none());
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "{not json").unwrap();
        let e = RunRecord::load(&bad).unwrap_err();
        assert!(format!("{e:#}").contains("is not a run record"), "{e:#}");
        let old = dir.join("old.json");
        std::fs::write(
            &old,
            r#"{"version": 9, "finished_unix_ms": 0, "scenarios": {}}"#,
        )
        .unwrap();
        let e = RunRecord::load(&old).unwrap_err();
        assert!(format!("{e:#}").contains("format version 9"), "{e:#}");
        let good = dir.join("sub/good.json");
        let r = record(&[("a", "root", 1.5)]);
        r.save(&good).unwrap();
        assert_eq!(RunRecord::load(&good).unwrap(), Some(r));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
