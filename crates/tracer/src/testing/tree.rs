//! Canonical text rendering of trace trees, and the assertion that compares them.

use std::collections::HashMap;
use std::fmt::Write as _;

use std::time::UNIX_EPOCH;

use opentelemetry::trace::{SpanId, Status, TraceId};

use super::CapturedSpan;
use crate::export::console::kind_name;

/// How a trace is rendered: one line per span, children indented by two spaces under their
/// parent, siblings ordered by start time then name (or by their text, see
/// [`siblings_by_text`](Self::siblings_by_text)).
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
    by_text: bool,
}

/// One span as the tree renderer sees it, whoever recorded it: made from a [`CapturedSpan`]
/// (`From`), or by hand from spans read back from a collector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeSpan {
    /// Trace id, in any stable spelling (hex).
    pub trace_id: String,
    /// Span id, unique within the trace.
    pub span_id: String,
    /// Parent span id; a span whose parent is absent from the spans rendered is a root.
    pub parent_id: Option<String>,
    /// `service.name` of the service that recorded the span.
    pub service: String,
    /// Kind in lower case: `server`, `client`, `internal`, `producer`, `consumer`.
    pub kind: String,
    /// Span name.
    pub name: String,
    /// Start time, in nanoseconds since the Unix epoch (only its order matters).
    pub start_unix_nanos: u128,
    /// Whether the span's status is an error.
    pub error: bool,
    /// Attributes, as `(key, value)` texts.
    pub attributes: Vec<(String, String)>,
    /// Names of the span's events, in order.
    pub events: Vec<String>,
}

impl From<&CapturedSpan> for TreeSpan {
    fn from(span: &CapturedSpan) -> Self {
        let data = &span.data;
        let parent = data.parent_span_id;
        TreeSpan {
            trace_id: data.span_context.trace_id().to_string(),
            span_id: data.span_context.span_id().to_string(),
            parent_id: (parent != SpanId::INVALID).then(|| parent.to_string()),
            service: span.service.clone(),
            kind: kind_name(&data.span_kind).to_owned(),
            name: data.name.to_string(),
            start_unix_nanos: data
                .start_time
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
            error: matches!(data.status, Status::Error { .. }),
            attributes: data
                .attributes
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect(),
            events: data.events.iter().map(|e| e.name.to_string()).collect(),
        }
    }
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

    /// Orders siblings that started concurrently by their text instead of their start time, so
    /// that the order does not change from run to run: siblings with the same service, kind and
    /// name form a group ordered by its members' text (then subtrees), and the groups keep the
    /// order of their first start.
    pub fn siblings_by_text(mut self, on: bool) -> Self {
        self.by_text = on;
        self
    }

    /// Renders every trace found in `spans`.
    pub fn render(&self, spans: &[CapturedSpan]) -> String {
        let spans: Vec<TreeSpan> = spans.iter().map(TreeSpan::from).collect();
        self.render_spans(&spans)
    }

    /// Renders the spans of one trace.
    pub fn render_trace(&self, spans: &[CapturedSpan], trace: TraceId) -> String {
        let members: Vec<TreeSpan> = spans
            .iter()
            .filter(|s| s.trace_id() == trace)
            .map(TreeSpan::from)
            .collect();
        self.render_spans(&members)
    }

    /// Renders every trace found in `spans`, however they were obtained.
    pub fn render_spans(&self, spans: &[TreeSpan]) -> String {
        let mut traces: Vec<(&str, Vec<&TreeSpan>)> = Vec::new();
        for span in spans {
            match traces.iter_mut().find(|(id, _)| *id == span.trace_id) {
                Some((_, members)) => members.push(span),
                None => traces.push((&span.trace_id, vec![span])),
            }
        }
        traces.sort_by_key(|(_, members)| members.iter().map(|s| s.start_unix_nanos).min());
        let rendered: Vec<String> = traces
            .iter()
            .map(|(_, members)| self.render_one(members))
            .collect();
        rendered.join("\n")
    }

    fn render_one(&self, spans: &[&TreeSpan]) -> String {
        let ids: HashMap<&str, usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id.as_str(), i))
            .collect();
        let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
        for (i, s) in spans.iter().enumerate() {
            let parent = s
                .parent_id
                .as_deref()
                .and_then(|p| ids.get(p).copied())
                .filter(|&p| p != i);
            children.entry(parent).or_default().push(i);
        }
        let lines: Vec<String> = spans.iter().map(|s| self.line(s)).collect();
        let mut out = String::new();
        self.render_children(&mut out, None, 0, spans, &children, &lines);
        out
    }

    /// Renders the subtree under `parent` (the roots for `None`), returning nothing: the text is
    /// appended to `out`. Children are rendered into their own strings first when ordered by
    /// text, so that equal lines are ordered by their subtrees.
    fn render_children(
        &self,
        out: &mut String,
        parent: Option<usize>,
        depth: usize,
        spans: &[&TreeSpan],
        children: &HashMap<Option<usize>, Vec<usize>>,
        lines: &[String],
    ) {
        let Some(kids) = children.get(&parent) else {
            return;
        };
        let mut rendered: Vec<(usize, String)> = kids
            .iter()
            .map(|&k| {
                let mut sub = String::new();
                let _ = writeln!(sub, "{:indent$}{}", "", lines[k], indent = depth * 2);
                self.render_children(&mut sub, Some(k), depth + 1, spans, children, lines);
                (k, sub)
            })
            .collect();
        if self.by_text {
            let group = |k: usize| (&spans[k].service, &spans[k].kind, &spans[k].name);
            let first_start = |k: usize| {
                kids.iter()
                    .filter(|&&o| group(o) == group(k))
                    .map(|&o| spans[o].start_unix_nanos)
                    .min()
                    .unwrap_or(0)
            };
            rendered.sort_by(|(a, sa), (b, sb)| {
                first_start(*a)
                    .cmp(&first_start(*b))
                    .then_with(|| group(*a).cmp(&group(*b)))
                    .then_with(|| sa.cmp(sb))
            });
        } else {
            rendered.sort_by(|&(a, _), &(b, _)| {
                let (a, b) = (spans[a], spans[b]);
                a.start_unix_nanos
                    .cmp(&b.start_unix_nanos)
                    .then_with(|| a.name.cmp(&b.name))
            });
        }
        for (_, sub) in rendered {
            out.push_str(&sub);
        }
    }

    fn line(&self, span: &TreeSpan) -> String {
        let mut out = format!("{} {} {}", span.service, span.kind, span.name);
        if span.error {
            out.push_str(" !error");
        }
        for key in &self.attributes {
            if let Some((_, value)) = span.attributes.iter().find(|(k, _)| k == key) {
                let _ = write!(out, " {key}={value}");
            }
        }
        if self.events && !span.events.is_empty() {
            let _ = write!(out, " events=[{}]", span.events.join(","));
        }
        out
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

/// Compares a rendered tree with the expected text like [`assert_tree`], but returns the
/// difference instead of panicking: `None` when they are equal, else the line diff (`-`
/// expected, `+` actual) followed by the full actual tree.
pub fn tree_diff(actual: &str, expected: &str) -> Option<String> {
    let (a, e) = (normalize(actual), normalize(expected));
    (a != e).then(|| {
        format!(
            "trace tree mismatch (- expected, + actual):\n{}\nactual tree:\n{}",
            diff(&e, &a),
            a.join("\n")
        )
    })
}

/// Asserts that a rendered tree equals the expected text, ignoring blank edge lines, common
/// indentation and trailing spaces.
///
/// # Panics
/// When they differ, with a line diff (`-` expected, `+` actual) and the full actual tree.
#[track_caller]
pub fn assert_tree(actual: &str, expected: &str) {
    if let Some(difference) = tree_diff(actual, expected) {
        panic!("{difference}");
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

    fn span(id: &str, parent: Option<&str>, name: &str, start: u128) -> TreeSpan {
        TreeSpan {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_id: parent.map(Into::into),
            service: "svc".into(),
            kind: "internal".into(),
            name: name.into(),
            start_unix_nanos: start,
            ..TreeSpan::default()
        }
    }

    #[test]
    fn hand_made_spans_render_by_start_or_by_text() {
        let spans = vec![
            span("r", Some("missing"), "root", 0),
            span("b", Some("r"), "b", 1),
            span("a", Some("r"), "a", 2),
            span("c", Some("a"), "c", 3),
        ];
        let by_start = TreeFormat::new().render_spans(&spans);
        assert_tree(
            &by_start,
            "svc internal root\n  svc internal b\n  svc internal a\n    svc internal c",
        );
        let mut concurrent = spans.clone();
        concurrent[1].name = "a".into(); // two `a` siblings: ordered by text (then subtree)
        concurrent[1].error = true;
        let by_text = TreeFormat::new()
            .siblings_by_text(true)
            .render_spans(&concurrent);
        assert_tree(
            &by_text,
            "svc internal root\n  svc internal a\n    svc internal c\n  svc internal a !error",
        );
    }

    #[test]
    #[should_panic(expected = "trace tree mismatch")]
    fn assert_tree_panics_on_difference() {
        assert_tree("a\n  b", "a\n  c");
    }
}
