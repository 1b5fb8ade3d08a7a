//! `GET /api/collector/traces/{id}`, the trace as the web UI reads it: newline-delimited JSON
//! with a header (span count, processes), lines of Jaeger spans in tree order and a last line
//! saying it is complete. Every span is the one `/api/traces/{id}` serves (same Jaeger model),
//! a parent always comes before its children, and errors are Jaeger's envelopes.

mod ui_support;

use std::collections::HashMap;

use serde_json::Value;
use ui_support::{SpanBuilder as S, UiCollector, export, now_ns, sid};

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

fn lines(body: &str) -> Vec<Value> {
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_streams_in_tree_order_with_the_jaeger_spans_of_the_trace_api() {
    let collector = UiCollector::start().await;
    let base = now_ns() - 10_000_000_000;
    // Children exported before their parents, across two services, plus an orphan and a tree
    // of 600 spans so the spans come in more than one line.
    let mut api = vec![
        S::new(TRACE, &sid(3), "SELECT", base, 30, 5).parent(&sid(2)),
        S::new(TRACE, &sid(2), "GET /items", base, 10, 50).parent(&sid(1)),
        S::new(TRACE, &sid(4), "late child", base, 20, 5).parent(&sid(1)),
        S::new(TRACE, &sid(99), "orphan", base, 5, 5).parent(&sid(98)),
    ];
    for i in 0..600u64 {
        api.push(S::new(TRACE, &sid(1000 + i), "work", base, 40 + i % 7, 3).parent(&sid(4)));
    }
    let web = vec![S::new(TRACE, &sid(1), "GET /", base, 0, 100)];
    collector
        .load(&export(vec![
            ("api", vec![("host.name", "h1")], api),
            ("web", vec![], web),
        ]))
        .await;
    collector.wait_for_trace(TRACE, 605).await;

    let (status, headers, body) = collector
        .get(&format!("/api/collector/traces/{TRACE}"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let lines = lines(&body);
    let header = &lines[0];
    assert_eq!(header["traceID"], TRACE);
    assert_eq!(header["spans"], 605);
    let services: Vec<&str> = header["processes"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p["serviceName"].as_str().unwrap())
        .collect();
    assert_eq!(services.len(), 2, "{header}");
    assert!(services.contains(&"api") && services.contains(&"web"));
    assert_eq!(
        lines.last().unwrap(),
        &serde_json::json!({"done": true, "spans": 605})
    );
    let parts = &lines[1..lines.len() - 1];
    assert!(
        parts.len() >= 3,
        "605 spans in parts of 256: {}",
        parts.len()
    );
    let spans: Vec<&Value> = parts
        .iter()
        .flat_map(|p| p.as_array().expect("a line of spans"))
        .collect();
    assert_eq!(spans.len(), 605);

    // Tree order: the root, its children by start (2 at 10 µs with 3 under it, then 4 at
    // 20 µs with its 600 children), then the orphan (a root of its own, starting at 5 µs but
    // after the true root's tree because roots go by start: 0 µs first).
    let ids: Vec<&str> = spans
        .iter()
        .map(|s| s["spanID"].as_str().unwrap())
        .collect();
    assert_eq!(ids[..4].to_vec(), [sid(1), sid(2), sid(3), sid(4)]);
    assert_eq!(ids[604], sid(99));
    let mut seen = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        if let Some(parent) = s["references"][0]["spanID"].as_str()
            && parent != sid(98)
        {
            assert!(
                seen.contains_key(parent),
                "span {} came before its parent {parent}",
                s["spanID"]
            );
        }
        seen.insert(s["spanID"].as_str().unwrap(), i);
    }
    // The 600 children of span 4 by start time, then span id.
    let kids: Vec<(u64, &str)> = spans[4..604]
        .iter()
        .map(|s| {
            (
                s["startTime"].as_u64().unwrap(),
                s["spanID"].as_str().unwrap(),
            )
        })
        .collect();
    let mut sorted = kids.clone();
    sorted.sort();
    assert_eq!(kids, sorted);

    // Each span is the Jaeger span of /api/traces/{id}, processes included.
    let (_, _, jaeger) = collector.get(&format!("/api/traces/{TRACE}")).await;
    let jaeger: Value = serde_json::from_str(&jaeger).unwrap();
    let trace = &jaeger["data"][0];
    let by_id: HashMap<&str, &Value> = trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["spanID"].as_str().unwrap(), s))
        .collect();
    for s in &spans {
        let id = s["spanID"].as_str().unwrap();
        let mut expected = (*by_id[id]).clone();
        let mut got = (*s).clone();
        // Process keys are per response; compare the processes they name.
        let pe = &trace["processes"][expected["processID"].as_str().unwrap()];
        let pg = &header["processes"][got["processID"].as_str().unwrap()];
        assert_eq!(pg, pe, "process of span {id}");
        expected["processID"] = Value::Null;
        got["processID"] = Value::Null;
        assert_eq!(got, expected, "span {id}");
    }
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_ids_get_jaegers_error_envelopes() {
    let collector = UiCollector::start().await;
    let (status, _, body) = collector
        .get("/api/collector/traces/00000000000000000000000000000abc")
        .await;
    assert_eq!(status, 404, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["errors"][0]["msg"], "trace not found");

    let (status, _, body) = collector.get("/api/collector/traces/not-hex").await;
    assert_eq!(status, 400, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(
        v["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("\"not-hex\""),
        "{body}"
    );
    collector.stop().await;
}
