//! `/api/v3/trace-summaries`: traces loaded over OTLP/HTTP come back as one summary each, field
//! by field in Jaeger's api_v3 `TraceSummary` shape (root span, time range as decimal-string
//! nanoseconds, span, error and orphan counts, per-service breakdown), filtered and limited
//! by the same parameters as `/api/v3/traces`; bad parameters get a 400 that names them.

mod common;

use common::{TestCollector, request, simple_span};
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use prost::Message;
use serde_json::json;

/// 2023-11-14T22:13:20Z in Unix nanoseconds.
const BASE: u64 = 1_700_000_000_000_000_000;
const CHECKOUT: u128 = 0x0af7651916cd43dd8448eb211c80319c;
const HEALTH: u128 = 0x1bf7651916cd43dd8448eb211c80319d;
const WINDOW: &str =
    "query.start_time_min=2023-11-14T22:13:19Z&query.start_time_max=2023-11-14T22:13:30Z";

fn failed(mut span: Span) -> Span {
    span.status = Some(Status {
        message: "card declined".into(),
        code: 2,
    });
    span
}

async fn load(collector: &TestCollector) {
    let t = CHECKOUT;
    let exports = [
        request(
            "frontend",
            vec![simple_span(t, 1, 0, "GET /checkout", BASE, 0, 120_000)],
        ),
        request(
            "payments",
            vec![
                failed(simple_span(t, 2, 1, "POST /charge", BASE, 10_000, 70_000)),
                simple_span(t, 3, 2, "SELECT accounts", BASE, 20_000, 10_000),
            ],
        ),
        // A second span without parent, started later: not the root.
        request(
            "worker",
            vec![simple_span(t, 4, 0, "background job", BASE, 5_000, 1_000)],
        ),
        // Its parent never arrived: an orphan, and the latest end of the trace.
        request(
            "fraud",
            vec![simple_span(t, 5, 0xdead, "Score", BASE, 50_000, 100_000)],
        ),
        request(
            "backend",
            vec![simple_span(
                HEALTH,
                1,
                0,
                "GET /health",
                BASE,
                1_000_000,
                2_000,
            )],
        ),
    ];
    for export in exports {
        let response = collector
            .post("application/x-protobuf", None, export.encode_to_vec())
            .await;
        assert_eq!(response.status(), 200);
    }
}

fn checkout_summary() -> serde_json::Value {
    json!({
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "rootServiceName": "frontend",
        "rootOperationName": "GET /checkout",
        "minStartTimeUnixNano": BASE.to_string(),
        "maxEndTimeUnixNano": (BASE + 150_000_000).to_string(),
        "spanCount": 5,
        "errorSpanCount": 1,
        "orphanSpanCount": 1,
        "services": [
            {"name": "fraud", "spanCount": 1, "errorSpanCount": 0},
            {"name": "frontend", "spanCount": 1, "errorSpanCount": 0},
            {"name": "payments", "spanCount": 2, "errorSpanCount": 1},
            {"name": "worker", "spanCount": 1, "errorSpanCount": 0},
        ],
    })
}

fn health_summary() -> serde_json::Value {
    json!({
        "traceId": "1bf7651916cd43dd8448eb211c80319d",
        "rootServiceName": "backend",
        "rootOperationName": "GET /health",
        "minStartTimeUnixNano": (BASE + 1_000_000_000).to_string(),
        "maxEndTimeUnixNano": (BASE + 1_002_000_000).to_string(),
        "spanCount": 1,
        "errorSpanCount": 0,
        "orphanSpanCount": 0,
        "services": [{"name": "backend", "spanCount": 1, "errorSpanCount": 0}],
    })
}

#[tokio::test]
async fn summaries_describe_each_matching_trace_field_by_field() {
    let collector = TestCollector::start().await;
    load(&collector).await;

    // One span of the trace matches: the summary covers the whole trace.
    let (status, body) = collector
        .get(&format!(
            "/api/v3/trace-summaries?query.service_name=payments&{WINDOW}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"summaries": [checkout_summary()]}));

    // Every trace of the window, newest first, as /api/v3/traces orders them.
    let (status, body) = collector
        .get(&format!("/api/v3/trace-summaries?{WINDOW}"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"summaries": [health_summary(), checkout_summary()]})
    );

    // The same filters as /api/v3/traces: duration, attributes, operation, search depth, and
    // Jaeger's lowerCamelCase parameter names.
    let (_, body) = collector
        .get(&format!(
            "/api/v3/trace-summaries?{WINDOW}&query.duration_min=100ms"
        ))
        .await;
    assert_eq!(body, json!({"summaries": [checkout_summary()]}));
    let (_, body) = collector
        .get(&format!(
            "/api/v3/trace-summaries?{WINDOW}&query.attributes=%7B%22error%22%3A%22true%22%7D"
        ))
        .await;
    assert_eq!(body, json!({"summaries": [checkout_summary()]}));
    let (_, body) = collector
        .get(
            "/api/v3/trace-summaries?query.serviceName=backend&query.operationName=GET%20%2Fhealth\
             &query.startTimeMin=2023-11-14T22:13:19Z&query.startTimeMax=2023-11-14T22:13:30Z",
        )
        .await;
    assert_eq!(body, json!({"summaries": [health_summary()]}));
    let (_, body) = collector
        .get(&format!(
            "/api/v3/trace-summaries?{WINDOW}&query.searchDepth=1"
        ))
        .await;
    assert_eq!(body, json!({"summaries": [health_summary()]}));

    // No match: an empty list, not a 404.
    let (status, body) = collector
        .get(&format!(
            "/api/v3/trace-summaries?{WINDOW}&query.service_name=nobody"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"summaries": []}));

    collector.stop().await;
}

#[tokio::test]
async fn bad_summary_parameters_get_a_400_naming_the_parameter() {
    let collector = TestCollector::start().await;
    load(&collector).await;
    for (query, message) in [
        (
            "query.service_name=frontend".to_owned(),
            "query.start_time_min and query.start_time_max are required",
        ),
        (
            "query.start_time_min=yesterday&query.start_time_max=2023-11-14T22:13:30Z".to_owned(),
            "malformed parameter query.start_time_min",
        ),
        (
            format!("{WINDOW}&query.duration_min=fast"),
            "malformed parameter query.duration_min",
        ),
        (
            format!("{WINDOW}&query.search_depth=lots"),
            "malformed parameter query.search_depth",
        ),
        (
            format!("{WINDOW}&query.attributes=notjson"),
            "malformed parameter query.attributes",
        ),
    ] {
        let (status, body) = collector
            .get(&format!("/api/v3/trace-summaries?{query}"))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["httpCode"], 400, "{query}: {body}");
        let got = body["error"]["message"].as_str().unwrap();
        assert!(got.starts_with(message), "{query}: {got:?}");
    }
    // The collector keeps answering.
    let (status, _) = collector
        .get(&format!("/api/v3/trace-summaries?{WINDOW}"))
        .await;
    assert_eq!(status, 200);
    collector.stop().await;
}
