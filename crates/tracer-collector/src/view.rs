//! Terminal view of one trace: an indented span tree with duration bars.
//!
//! Each span gets one line — tree branch and operation, service, duration, status and a bar
//! placed on the trace's timeline — followed, when it has any, by one line of key attributes
//! (HTTP, RPC, DB and error attributes). The output fits the given width (100 columns is the
//! target of the demo runner).
//!
//! ```
//! use tracer_collector::query::model::Trace;
//! use tracer_collector::view::render;
//! let trace = Trace {
//!     trace_id: "00000000000000ab".into(),
//!     spans: vec![],
//!     processes: Default::default(),
//!     warnings: None,
//! };
//! assert!(render(&trace, 100).starts_with("trace 00000000000000ab"));
//! ```

use std::collections::HashMap;
use std::fmt::Write;

use crate::query::model::{KeyValue, Span, Trace};

/// Attributes shown under a span, in this order, at most [`MAX_KEY_ATTRIBUTES`] of them.
pub const KEY_ATTRIBUTES: &[&str] = &[
    "http.request.method",
    "http.route",
    "url.path",
    "http.response.status_code",
    "rpc.method",
    "rpc.response.status_code",
    "rpc.grpc.status_code",
    "db.system.name",
    "db.operation.name",
    "db.collection.name",
    "db.query.text",
    "db.response.status_code",
    "server.address",
    "error.type",
    "otel.status_description",
    "exception.message",
];

/// Maximum key attributes shown per span.
pub const MAX_KEY_ATTRIBUTES: usize = 4;

/// Formats a duration given in microseconds: `850us`, `12.3ms`, `1.25s`.
pub fn format_duration_us(us: u64) -> String {
    if us < 1000 {
        format!("{us}us")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

fn pad(s: &str, width: usize) -> String {
    let t = truncate(s, width);
    let n = t.chars().count();
    format!("{t}{}", " ".repeat(width - n))
}

fn value_text(kv: &KeyValue) -> String {
    match &kv.value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_error(span: &Span) -> bool {
    span.tags
        .iter()
        .any(|t| t.key == "error" && t.value == serde_json::Value::Bool(true))
}

fn parent_of(span: &Span) -> Option<&str> {
    span.references
        .iter()
        .find(|r| r.ref_type == "CHILD_OF" && r.trace_id == span.trace_id)
        .map(|r| r.span_id.as_str())
}

/// Renders `trace` as a tree that fits `width` columns (at least 60 are used).
pub fn render(trace: &Trace, width: usize) -> String {
    let width = width.max(60);
    let mut out = String::new();
    let start = trace.spans.iter().map(|s| s.start_time).min().unwrap_or(0);
    let end = trace
        .spans
        .iter()
        .map(|s| s.start_time + s.duration)
        .max()
        .unwrap_or(0);
    let total = end.saturating_sub(start).max(1);
    let mut services: Vec<&str> = trace
        .processes
        .values()
        .map(|p| p.service_name.as_str())
        .collect();
    services.sort_unstable();
    services.dedup();
    let errors = trace.spans.iter().filter(|s| is_error(s)).count();
    let _ = writeln!(
        out,
        "{}",
        truncate(
            &format!(
                "trace {}  {} spans  {} services  {}  {} errors",
                trace.trace_id,
                trace.spans.len(),
                services.len(),
                format_duration_us(end.saturating_sub(start)),
                errors
            ),
            width
        )
    );
    if trace.spans.is_empty() {
        return out;
    }

    let ids: HashMap<&str, usize> = trace
        .spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id.as_str(), i))
        .collect();
    let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, span) in trace.spans.iter().enumerate() {
        let parent = parent_of(span).and_then(|p| ids.get(p).copied());
        children.entry(parent).or_default().push(i);
    }
    for list in children.values_mut() {
        list.sort_by_key(|&i| (trace.spans[i].start_time, i));
    }

    // Columns: tree+name | service | duration | status | bar.
    let name_w = width * 2 / 5;
    let service_w = 14;
    let duration_w = 8;
    let status_w = 3;
    let bar_w = width - name_w - service_w - duration_w - status_w - 4;

    // Depth-first walk with an explicit stack: (span, prefix for children, branch for this line).
    let mut stack: Vec<(usize, String, String)> = Vec::new();
    let roots = children.get(&None).cloned().unwrap_or_default();
    for &root in roots.iter().rev() {
        stack.push((root, String::new(), String::new()));
    }
    let mut seen = vec![false; trace.spans.len()];
    while let Some((i, prefix, branch)) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        let span = &trace.spans[i];
        let service = trace
            .processes
            .get(&span.process_id)
            .map_or("?", |p| p.service_name.as_str());
        let status = if is_error(span) {
            "ERR"
        } else if span.tags.iter().any(|t| t.key == "otel.status_code") {
            "ok"
        } else {
            ""
        };
        let offset = span.start_time.saturating_sub(start);
        let from = (offset as u128 * bar_w as u128 / total as u128) as usize;
        let len = ((span.duration as u128 * bar_w as u128).div_ceil(total as u128) as usize).max(1);
        let from = from.min(bar_w - 1);
        let len = len.min(bar_w - from);
        let bar = format!(
            "{}{}{}",
            " ".repeat(from),
            if status == "ERR" { "▓" } else { "█" }.repeat(len),
            " ".repeat(bar_w - from - len)
        );
        let _ = writeln!(
            out,
            "{} {} {:>duration_w$} {} {}",
            pad(&format!("{prefix}{branch}{}", span.operation_name), name_w),
            pad(service, service_w),
            format_duration_us(span.duration),
            pad(status, status_w),
            bar.trim_end(),
        );
        let kids = children.get(&Some(i)).cloned().unwrap_or_default();
        let child_prefix = format!(
            "{prefix}{}",
            match branch.as_str() {
                "├─ " => "│  ",
                "└─ " => "   ",
                _ => "",
            }
        );
        let mut attrs: Vec<String> = Vec::new();
        for key in KEY_ATTRIBUTES {
            let found = span.tags.iter().find(|t| t.key == *key).or_else(|| {
                span.logs
                    .iter()
                    .flat_map(|l| l.fields.iter())
                    .find(|f| f.key == *key)
            });
            if let Some(kv) = found {
                attrs.push(format!("{}={}", kv.key, value_text(kv)));
            }
            if attrs.len() == MAX_KEY_ATTRIBUTES {
                break;
            }
        }
        if !attrs.is_empty() {
            let guide = if kids.is_empty() { "   " } else { "│  " };
            let _ = writeln!(
                out,
                "{}",
                truncate(
                    &format!("{child_prefix}{guide}  {}", attrs.join(" ")),
                    width
                )
            );
        }
        for (n, &kid) in kids.iter().enumerate().rev() {
            let last = n + 1 == kids.len();
            let branch = if last { "└─ " } else { "├─ " };
            stack.push((kid, child_prefix.clone(), branch.to_owned()));
        }
    }
    out
}

/// Renders the linter's findings for a trace ([`crate::insight::lint`]) below its tree: a
/// `findings:` heading, then each finding's sentence, `!` for a warning and `i` for
/// information, wrapped to `width` columns (at least 40) and indented under its marker.
///
/// ```
/// use tracer_collector::insight::lint::lint;
/// use tracer_collector::insight::view::{TraceView, ViewSpan};
/// use tracer_collector::view::render_findings;
///
/// let ms = 1_000_000;
/// let trace = TraceView::new(1, vec![
///     ViewSpan::new(1, 0, "shop", "GET /").kind(2).timing(0, 100 * ms),
///     ViewSpan::new(2, 1, "shop", "SELECT items").client().timing(5 * ms, 90 * ms)
///         .attribute("db.system.name", "mysql"),
/// ]);
/// let text = render_findings(&lint(&trace), 60);
/// assert!(text.starts_with("findings: 1\n  i Dominant span: shop SELECT items: 90.0 ms of"));
/// assert!(text.lines().all(|l| l.chars().count() <= 60));
/// assert_eq!(render_findings(&[], 60), "findings: none\n");
/// ```
pub fn render_findings(findings: &[crate::insight::lint::Finding], width: usize) -> String {
    use crate::insight::lint::Severity;
    let width = width.max(40);
    if findings.is_empty() {
        return "findings: none\n".to_owned();
    }
    let mut out = format!("findings: {}\n", findings.len());
    for f in findings {
        let marker = match f.severity {
            Severity::Warning => "!",
            Severity::Info => "i",
        };
        let mut line = format!("  {marker}");
        let mut fresh = true;
        for word in f.message.split_whitespace() {
            let len = line.chars().count();
            if !fresh && len + 1 + word.chars().count() > width {
                let _ = writeln!(out, "{line}");
                line = "    ".to_owned();
                fresh = true;
            }
            if fresh && line.trim().is_empty() {
                line.push_str(&truncate(word, width - 4));
            } else {
                line.push(' ');
                line.push_str(&truncate(word, width.saturating_sub(len + 1).max(1)));
            }
            fresh = false;
        }
        let _ = writeln!(out, "{line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_with_units() {
        assert_eq!(format_duration_us(850), "850us");
        assert_eq!(format_duration_us(12_345), "12.3ms");
        assert_eq!(format_duration_us(1_250_000), "1.25s");
    }

    #[test]
    fn truncation_marks_cut_text() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
