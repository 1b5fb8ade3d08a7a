//! Canonical text rendering of trace trees, and the assertion that compares them.

use std::collections::HashMap;
use std::fmt::Write as _;

use opentelemetry::trace::{SpanId, Status, TraceId};

use super::CapturedSpan;
use crate::export::console::kind_name;

/// How a trace is rendered: one line per span, children indented by two spaces under their
/// parent, siblings ordered by start time then name.
///
/// A line reads `{service} {kind} {name}`, then ` !error` when the span's status is an error,
/// then ` key=value` for each chosen attribute the span has (in the order chosen), then
/// ` events=[a,b]` when events are shown and the span has some. Traces are ordered by their
/// first span's start and separated by a blank line. The output only depends on the spans, so
/// it can be compared with an expected text.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct TreeFormat {
    attributes: Vec<String>,
    events: bool,
}

impl TreeFormat {
    /// Service, kind, name and error marker only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also shows these attributes, when present.
    pub fn attributes<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.attributes.extend(keys.into_iter().map(Into::into));
        self
    }

    /// Also shows the names of each span's events.
    pub fn events(mut self, on: bool) -> Self {
        self.events = on;
        self
    }

    /// Renders every trace found in `spans`.
    pub fn render(&self, spans: &[CapturedSpan]) -> String {
        let mut traces: Vec<(TraceId, Vec<&CapturedSpan>)> = Vec::new();
        for span in spans {
            match traces.iter_mut().find(|(id, _)| *id == span.trace_id()) {
                Some((_, members)) => members.push(span),
                None => traces.push((span.trace_id(), vec![span])),
            }
        }
        traces.sort_by_key(|(_, members)| members.iter().map(|s| s.data.start_time).min());
        let rendered: Vec<String> = traces
            .iter()
            .map(|(_, members)| self.render_one(members))
            .collect();
        rendered.join("\n")
    }

    /// Renders the spans of one trace.
    pub fn render_trace(&self, spans: &[CapturedSpan], trace: TraceId) -> String {
        let members: Vec<&CapturedSpan> = spans.iter().filter(|s| s.trace_id() == trace).collect();
        self.render_one(&members)
    }

    fn render_one(&self, spans: &[&CapturedSpan]) -> String {
        let ids: HashMap<SpanId, usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.data.span_context.span_id(), i))
            .collect();
        let mut children: HashMap<Option<SpanId>, Vec<usize>> = HashMap::new();
        for (i, s) in spans.iter().enumerate() {
            let parent = Some(s.data.parent_span_id).filter(|p| ids.contains_key(p));
            children.entry(parent).or_default().push(i);
        }
        for list in children.values_mut() {
            list.sort_by(|&a, &b| {
                let (a, b) = (&spans[a].data, &spans[b].data);
                a.start_time
                    .cmp(&b.start_time)
                    .then_with(|| a.name.cmp(&b.name))
            });
        }
        let mut out = String::new();
        let mut stack: Vec<(usize, usize)> = children
            .get(&None)
            .map(|roots| roots.iter().rev().map(|&i| (i, 0)).collect())
            .unwrap_or_default();
        while let Some((i, depth)) = stack.pop() {
            self.line(&mut out, spans[i], depth);
            if let Some(kids) = children.get(&Some(spans[i].data.span_context.span_id())) {
                stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
            }
        }
        out
    }

    fn line(&self, out: &mut String, span: &CapturedSpan, depth: usize) {
        let data = &span.data;
        let _ = write!(
            out,
            "{:indent$}{} {} {}",
            "",
            span.service,
            kind_name(&data.span_kind),
            data.name,
            indent = depth * 2
        );
        if matches!(data.status, Status::Error { .. }) {
            out.push_str(" !error");
        }
        for key in &self.attributes {
            if let Some(value) = span.attr(key) {
                let _ = write!(out, " {key}={value}");
            }
        }
        if self.events && !data.events.is_empty() {
            let names: Vec<&str> = data.events.iter().map(|e| e.name.as_ref()).collect();
            let _ = write!(out, " events=[{}]", names.join(","));
        }
        out.push('\n');
    }
}

/// Strips blank edge lines, the common indentation and trailing spaces.
fn normalize(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |e| e + 1);
    let body = &lines[start..end];
    let indent = body
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    body.iter()
        .map(|l| l.get(indent..).unwrap_or("").to_owned())
        .collect()
}

/// A line diff: ` ` same, `-` only in expected, `+` only in actual.
fn diff(expected: &[String], actual: &[String]) -> String {
    let (n, m) = (expected.len(), actual.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == actual[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < n || j < m {
        if i < n && j < m && expected[i] == actual[j] {
            let _ = writeln!(out, "  {}", expected[i]);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            let _ = writeln!(out, "+ {}", actual[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "- {}", expected[i]);
            i += 1;
        }
    }
    out
}

/// Asserts that a rendered tree equals the expected text, ignoring blank edge lines, common
/// indentation and trailing spaces.
///
/// # Panics
/// When they differ, with a line diff (`-` expected, `+` actual) and the full actual tree.
#[track_caller]
pub fn assert_tree(actual: &str, expected: &str) {
    let (a, e) = (normalize(actual), normalize(expected));
    if a != e {
        panic!(
            "trace tree mismatch (- expected, + actual):\n{}\nactual tree:\n{}",
            diff(&e, &a),
            a.join("\n")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_ignores_indentation_and_edges() {
        assert_eq!(normalize("\n    a\n      b  \n\n"), vec!["a", "  b"]);
    }

    #[test]
    fn diff_marks_changes() {
        let e: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let a: Vec<String> = ["a", "x", "c"].map(String::from).to_vec();
        assert_eq!(diff(&e, &a), "  a\n+ x\n- b\n  c\n");
    }

    #[test]
    #[should_panic(expected = "trace tree mismatch")]
    fn assert_tree_panics_on_difference() {
        assert_tree("a\n  b", "a\n  c");
    }
}
