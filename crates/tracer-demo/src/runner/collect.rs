//! Reading a trace back from the collector's Jaeger API, and turning it into the spans the
//! tree assertions of `tracer::testing` work on.

use anyhow::{Context as _, bail};
use serde_json::Value;
use tracer::testing::TreeSpan;
use tracer_collector::insight::api::TraceFindings;
use tracer_collector::insight::lint::Finding;
use tracer_collector::query::model::{Envelope, Trace};

/// Fetches trace `id` (32 hex digits); `Ok(None)` when the collector has no span of it.
pub async fn fetch(
    http: &reqwest::Client,
    query_url: &str,
    id: &str,
) -> anyhow::Result<Option<Trace>> {
    let url = format!("{query_url}/api/traces/{id}");
    let envelope: Option<Envelope<Vec<Trace>>> = get_envelope(http, &url, "a Jaeger").await?;
    Ok(envelope
        .and_then(|e| e.data)
        .and_then(|mut traces| traces.pop()))
}

/// Fetches the linter's findings for trace `id` (`/api/traces/{id}/findings`); empty when the
/// collector has no span of it.
pub async fn fetch_findings(
    http: &reqwest::Client,
    query_url: &str,
    id: &str,
) -> anyhow::Result<Vec<Finding>> {
    let url = format!("{query_url}/api/traces/{id}/findings");
    let envelope: Option<Envelope<TraceFindings>> = get_envelope(http, &url, "a findings").await?;
    Ok(envelope
        .and_then(|e| e.data)
        .map(|d| d.findings)
        .unwrap_or_default())
}

/// GETs `url` and reads its Jaeger-style envelope; `Ok(None)` on 404. `what` names the
/// envelope in the error when the body is not one.
async fn get_envelope<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    what: &str,
) -> anyhow::Result<Option<T>> {
    let response = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("cannot query the collector at {url}"))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !response.status().is_success() {
        bail!("the collector answered {} for {url}", response.status());
    }
    let envelope = response
        .json()
        .await
        .with_context(|| format!("the collector's answer for {url} is not {what} envelope"))?;
    Ok(Some(envelope))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The spans of a collected trace, as tree spans.
pub fn tree_spans(trace: &Trace) -> Vec<TreeSpan> {
    trace
        .spans
        .iter()
        .map(|span| {
            let tag = |key: &str| span.tags.iter().find(|t| t.key == key).map(|t| &t.value);
            let service = trace
                .processes
                .get(&span.process_id)
                .map(|p| p.service_name.clone())
                .unwrap_or_default();
            let parent = span
                .references
                .iter()
                .find(|r| r.ref_type == "CHILD_OF")
                .map(|r| r.span_id.clone());
            TreeSpan {
                trace_id: span.trace_id.clone(),
                span_id: span.span_id.clone(),
                parent_id: parent,
                service,
                kind: tag("span.kind").map_or_else(|| "internal".to_owned(), text),
                name: span.operation_name.clone(),
                start_unix_nanos: u128::from(span.start_time) * 1000,
                error: tag("error") == Some(&Value::Bool(true)),
                attributes: span
                    .tags
                    .iter()
                    .map(|t| (t.key.clone(), text(&t.value)))
                    .collect(),
                events: span
                    .logs
                    .iter()
                    .filter_map(|log| log.fields.iter().find(|f| f.key == "event"))
                    .map(|f| text(&f.value))
                    .collect(),
            }
        })
        .collect()
}
