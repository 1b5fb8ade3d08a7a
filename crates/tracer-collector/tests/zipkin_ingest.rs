//! Zipkin spans (v2 JSON, v2 protobuf, v1 JSON, gzip) map field by field to OTLP and read back
//! through the query APIs; a shared server span stays its own span under the client span.

mod common;

use common::TestCollector;
use serde_json::{Value as Json, json};

/// 2023-11-14T22:13:20Z in Unix microseconds.
const BASE_US: u64 = 1_700_000_000_000_000;

/// A client span and the shared server span of the same id, 64-bit trace id `trace`.
fn v2_spans(trace: &str) -> Json {
    json!([
        {
            "traceId": trace, "id": "a2fb4a1d1a96d312", "kind": "CLIENT", "name": "get /api",
            "timestamp": BASE_US, "duration": 1500,
            "localEndpoint": {"serviceName": "frontend", "ipv4": "192.0.2.1", "port": 8080},
            "remoteEndpoint": {"serviceName": "backend", "ipv4": "192.0.2.2", "port": 9000},
            "tags": {"http.method": "GET", "error": "timeout"},
            "annotations": [{"timestamp": BASE_US + 10, "value": "ws"}],
            "debug": true
        },
        {
            "traceId": trace, "id": "a2fb4a1d1a96d312", "kind": "SERVER", "name": "get /api",
            "timestamp": BASE_US + 100, "duration": 1000, "shared": true,
            "localEndpoint": {"serviceName": "backend", "ipv6": "2001:db8::1"},
            "remoteEndpoint": {"ipv4": "192.0.2.1", "port": 51000},
            "tags": {"otel.status_code": "OK"}
        },
        {
            "traceId": trace, "id": "000000000000000b", "parentId": "a2fb4a1d1a96d312",
            "kind": "PRODUCER", "name": "send", "timestamp": BASE_US + 200, "duration": 5,
            "localEndpoint": {"serviceName": "backend"}
        }
    ])
}

fn proto_endpoint(service: &str, ipv4: [u8; 4], ipv6: &[u8], port: i32) -> Vec<u8> {
    // zipkin.proto3.Endpoint, hand-encoded: the test does not share the collector's model.
    let mut out = Vec::new();
    prost::encoding::string::encode(1, &service.to_owned(), &mut out);
    if ipv4 != [0; 4] {
        prost::encoding::bytes::encode(2, &ipv4.to_vec(), &mut out);
    }
    if !ipv6.is_empty() {
        prost::encoding::bytes::encode(3, &ipv6.to_vec(), &mut out);
    }
    if port != 0 {
        prost::encoding::int32::encode(4, &port, &mut out);
    }
    out
}

/// The spans of [`v2_spans`] as `zipkin.proto3.ListOfSpans`.
fn proto_spans(trace: u64) -> Vec<u8> {
    use prost::encoding::{bool, bytes, fixed64, int32, string, uint64};
    #[allow(clippy::too_many_arguments)] // one argument per proto field used
    fn span(
        trace: u64,
        id: u64,
        parent: u64,
        kind: i32,
        name: &str,
        ts: u64,
        dur: u64,
        local: Vec<u8>,
        remote: Option<Vec<u8>>,
        tags: &[(&str, &str)],
        annotations: &[(u64, &str)],
        debug: bool,
        shared: bool,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        bytes::encode(1, &trace.to_be_bytes().to_vec(), &mut out);
        if parent != 0 {
            bytes::encode(2, &parent.to_be_bytes().to_vec(), &mut out);
        }
        bytes::encode(3, &id.to_be_bytes().to_vec(), &mut out);
        int32::encode(4, &kind, &mut out);
        string::encode(5, &name.to_owned(), &mut out);
        fixed64::encode(6, &ts, &mut out);
        uint64::encode(7, &dur, &mut out);
        bytes::encode(8, &local, &mut out);
        if let Some(remote) = remote {
            bytes::encode(9, &remote, &mut out);
        }
        for (t, v) in annotations {
            let mut a = Vec::new();
            fixed64::encode(1, t, &mut a);
            string::encode(2, &(*v).to_owned(), &mut a);
            bytes::encode(10, &a, &mut out);
        }
        for (k, v) in tags {
            let mut entry = Vec::new();
            string::encode(1, &(*k).to_owned(), &mut entry);
            string::encode(2, &(*v).to_owned(), &mut entry);
            bytes::encode(11, &entry, &mut out);
        }
        if debug {
            bool::encode(12, &true, &mut out);
        }
        if shared {
            bool::encode(13, &true, &mut out);
        }
        out
    }
    let ipv6: Vec<u8> = "2001:db8::1"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets()
        .to_vec();
    let spans = [
        span(
            trace,
            0xa2fb4a1d1a96d312,
            0,
            1,
            "get /api",
            BASE_US,
            1500,
            proto_endpoint("frontend", [192, 0, 2, 1], &[], 8080),
            Some(proto_endpoint("backend", [192, 0, 2, 2], &[], 9000)),
            &[("error", "timeout"), ("http.method", "GET")],
            &[(BASE_US + 10, "ws")],
            true,
            false,
        ),
        span(
            trace,
            0xa2fb4a1d1a96d312,
            0,
            2,
            "get /api",
            BASE_US + 100,
            1000,
            proto_endpoint("backend", [0; 4], &ipv6, 0),
            Some(proto_endpoint("", [192, 0, 2, 1], &[], 51000)),
            &[("otel.status_code", "OK")],
            &[],
            false,
            true,
        ),
        span(
            trace,
            0xb,
            0xa2fb4a1d1a96d312,
            3,
            "send",
            BASE_US + 200,
            5,
            proto_endpoint("backend", [0; 4], &[], 0),
            None,
            &[],
            &[],
            false,
            false,
        ),
    ];
    let mut out = Vec::new();
    for s in spans {
        bytes::encode(1, &s, &mut out);
    }
    out
}

/// The resources and spans of a v3 answer, trace ids removed, spans in span-id order.
async fn v3(c: &TestCollector, trace: &str) -> Vec<(Json, Json)> {
    let (status, body) = c.get(&format!("/api/v3/traces/{trace}")).await;
    assert_eq!(status, 200, "{body}");
    let mut out = Vec::new();
    for rs in body["result"]["resourceSpans"].as_array().unwrap() {
        for ss in rs["scopeSpans"].as_array().unwrap() {
            for span in ss["spans"].as_array().unwrap() {
                let mut span = span.clone();
                span.as_object_mut().unwrap().remove("traceId");
                out.push((rs["resource"]["attributes"].clone(), span));
            }
        }
    }
    out.sort_by_key(|(_, s)| s["spanId"].as_str().unwrap().to_owned());
    out
}

fn attrs(span: &Json) -> Vec<(String, Json)> {
    span["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["key"].as_str().unwrap().to_owned(), a["value"].clone()))
        .collect()
}

#[tokio::test]
async fn zipkin_v2_json_and_protobuf_map_field_by_field_and_agree() {
    let c = TestCollector::start().await;
    let trace = "463ac35c9f6413ad";
    let r = c
        .post_to(
            c.zipkin,
            "/api/v2/spans",
            Some("application/json"),
            None,
            v2_spans(trace).to_string(),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.text().await.unwrap(), "");
    // A 64-bit trace id is the low half of the 128-bit one.
    let jaeger = c.wait_trace(&format!("0000000000000000{trace}"), 3).await;
    assert_eq!(jaeger["spans"].as_array().unwrap().len(), 3);

    let spans = v3(&c, &format!("0000000000000000{trace}")).await;
    let find = |kind: i64| {
        spans
            .iter()
            .find(|(_, s)| s["kind"] == kind)
            .unwrap_or_else(|| panic!("no span of kind {kind} in {spans:?}"))
            .clone()
    };
    let (client_resource, client) = find(3);
    assert_eq!(
        client_resource,
        json!([{"key": "service.name", "value": {"stringValue": "frontend"}}])
    );
    assert_eq!(client["spanId"], "a2fb4a1d1a96d312");
    assert_eq!(client["parentSpanId"], "");
    assert_eq!(client["name"], "get /api");
    assert_eq!(client["flags"], 1);
    assert_eq!(client["startTimeUnixNano"], (BASE_US * 1000).to_string());
    assert_eq!(
        client["endTimeUnixNano"],
        ((BASE_US + 1500) * 1000).to_string()
    );
    assert_eq!(client["status"], json!({"code": 2, "message": "timeout"}));
    assert_eq!(
        attrs(&client),
        [
            ("http.method".to_owned(), json!({"stringValue": "GET"})),
            (
                "network.local.address".to_owned(),
                json!({"stringValue": "192.0.2.1"})
            ),
            ("network.local.port".to_owned(), json!({"intValue": "8080"})),
            (
                "service.peer.name".to_owned(),
                json!({"stringValue": "backend"})
            ),
            (
                "network.peer.address".to_owned(),
                json!({"stringValue": "192.0.2.2"})
            ),
            (
                "server.address".to_owned(),
                json!({"stringValue": "192.0.2.2"})
            ),
            ("network.peer.port".to_owned(), json!({"intValue": "9000"})),
            ("server.port".to_owned(), json!({"intValue": "9000"})),
            ("tracer.zipkin.debug".to_owned(), json!({"boolValue": true})),
        ]
    );
    assert_eq!(client["events"][0]["name"], "ws");
    assert_eq!(
        client["events"][0]["timeUnixNano"],
        ((BASE_US + 10) * 1000).to_string()
    );

    // The shared server span: its own id, the shared id as its parent, marked.
    let (server_resource, server) = find(2);
    assert_eq!(server_resource[0]["value"]["stringValue"], "backend");
    assert_ne!(server["spanId"], "a2fb4a1d1a96d312");
    assert_eq!(server["parentSpanId"], "a2fb4a1d1a96d312");
    assert_eq!(server["status"]["code"], 1);
    assert_eq!(
        attrs(&server),
        [
            (
                "network.local.address".to_owned(),
                json!({"stringValue": "2001:db8::1"})
            ),
            (
                "network.peer.address".to_owned(),
                json!({"stringValue": "192.0.2.1"})
            ),
            ("network.peer.port".to_owned(), json!({"intValue": "51000"})),
            (
                "tracer.zipkin.shared".to_owned(),
                json!({"boolValue": true})
            ),
        ]
    );
    let (_, producer) = find(4);
    assert_eq!(producer["parentSpanId"], "a2fb4a1d1a96d312");

    // The Jaeger view shows one tree: server under client.
    let server_in_jaeger = jaeger["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["spanID"] == server["spanId"])
        .unwrap();
    assert_eq!(
        server_in_jaeger["references"][0]["spanID"],
        "a2fb4a1d1a96d312"
    );

    // The same spans as protobuf read back identically.
    let r = c
        .post_to(
            c.zipkin,
            "/api/v2/spans",
            Some("application/x-protobuf"),
            None,
            proto_spans(0x1111_2222_3333_4444),
        )
        .await;
    assert_eq!(r.status(), 202);
    c.wait_trace("1111222233334444", 3).await;
    let mut from_proto = v3(&c, "1111222233334444").await;
    let mut from_json = spans.clone();
    // Only the derived id of the shared span depends on the trace id.
    for (_, s) in from_json.iter_mut().chain(from_proto.iter_mut()) {
        if s["kind"] == 2 {
            s["spanId"] = json!("derived");
        }
    }
    from_json.sort_by_key(|(_, s)| s["kind"].as_i64());
    from_proto.sort_by_key(|(_, s)| s["kind"].as_i64());
    assert_eq!(from_proto, from_json);

    let stats = c.ingest_stats().await;
    assert_eq!(stats["zipkinV2Json"]["spans"], 3);
    assert_eq!(stats["zipkinV2Proto"]["spans"], 3);
    c.stop().await;
}

#[tokio::test]
async fn zipkin_v1_json_splits_client_and_server_sides_and_gzip_is_accepted() {
    let c = TestCollector::start().await;
    let frontend = json!({"serviceName": "frontend", "ipv4": "192.0.2.1", "port": 8080});
    let backend = json!({"serviceName": "backend", "ipv4": "192.0.2.2", "port": 9000});
    let v1 = json!([{
        "traceId": "00000000000000000000000000000abc", "id": "0000000000000001", "name": "get",
        "annotations": [
            {"timestamp": BASE_US, "value": "cs", "endpoint": frontend},
            {"timestamp": BASE_US + 100, "value": "sr", "endpoint": backend},
            {"timestamp": BASE_US + 150, "value": "cache miss", "endpoint": backend},
            {"timestamp": BASE_US + 900, "value": "ss", "endpoint": backend},
            {"timestamp": BASE_US + 1000, "value": "cr", "endpoint": frontend}
        ],
        "binaryAnnotations": [
            {"key": "http.path", "value": "/api", "endpoint": frontend},
            {"key": "sa", "value": true, "endpoint": backend}
        ]
    }]);
    let body = common::gzip(v1.to_string().as_bytes());
    let r = c
        .post_to(
            c.zipkin,
            "/api/v1/spans",
            Some("application/json"),
            Some("gzip"),
            body,
        )
        .await;
    assert_eq!(r.status(), 202);
    c.wait_trace("00000000000000000000000000000abc", 2).await;
    let spans = v3(&c, "00000000000000000000000000000abc").await;
    assert_eq!(spans.len(), 2, "{spans:?}");
    let (client_res, client) = spans.iter().find(|(_, s)| s["kind"] == 3).unwrap();
    let (server_res, server) = spans.iter().find(|(_, s)| s["kind"] == 2).unwrap();
    assert_eq!(client_res[0]["value"]["stringValue"], "frontend");
    assert_eq!(server_res[0]["value"]["stringValue"], "backend");
    assert_eq!(client["spanId"], "0000000000000001");
    assert_eq!(client["startTimeUnixNano"], (BASE_US * 1000).to_string());
    assert_eq!(
        client["endTimeUnixNano"],
        ((BASE_US + 1000) * 1000).to_string()
    );
    assert!(attrs(client).contains(&(
        "server.address".to_owned(),
        json!({"stringValue": "192.0.2.2"})
    )));
    assert!(attrs(client).contains(&("http.path".to_owned(), json!({"stringValue": "/api"}))));
    assert_eq!(server["parentSpanId"], "0000000000000001");
    assert_eq!(
        server["startTimeUnixNano"],
        ((BASE_US + 100) * 1000).to_string()
    );
    assert_eq!(
        server["endTimeUnixNano"],
        ((BASE_US + 900) * 1000).to_string()
    );
    assert_eq!(server["events"][0]["name"], "cache miss");
    assert_eq!(c.ingest_stats().await["zipkinV1Json"]["spans"], 2);
    c.stop().await;
}

#[path = "common/jaeger_wire.rs"]
mod jaeger_wire;

/// A v1 thrift RPC span: both sides in one span, typed binary annotations.
fn v1_thrift_span(trace: i64) -> jaeger_wire::zipkincore::Span {
    use jaeger_wire::zipkincore::{Annotation, AnnotationType, BinaryAnnotation, Endpoint, Span};
    let host = |name: &str, ip: [u8; 4], port: i16| Endpoint {
        ipv4: Some(u32::from_be_bytes(ip) as i32),
        port: Some(port),
        service_name: Some(name.into()),
        ipv6: None,
    };
    let (frontend, backend) = (
        host("frontend", [192, 0, 2, 1], 8080),
        host("backend", [192, 0, 2, 2], 9000),
    );
    let at = |ts: u64, value: &str, host: &Endpoint| Annotation {
        timestamp: Some((BASE_US + ts) as i64),
        value: Some(value.into()),
        host: Some(host.clone()),
    };
    let tag = |key: &str, t, value: Vec<u8>, host: &Endpoint| BinaryAnnotation {
        key: Some(key.into()),
        value: Some(value),
        annotation_type: Some(t),
        host: Some(host.clone()),
    };
    Span {
        trace_id: Some(trace),
        name: Some("get".into()),
        id: Some(1),
        parent_id: None,
        annotations: Some(vec![
            at(0, "cs", &frontend),
            at(100, "sr", &backend),
            at(900, "ss", &backend),
            at(1000, "cr", &frontend),
        ]),
        binary_annotations: Some(vec![
            tag("sa", AnnotationType::BOOL, vec![1], &backend),
            tag(
                "http.path",
                AnnotationType::STRING,
                b"/api".to_vec(),
                &frontend,
            ),
            tag(
                "retries",
                AnnotationType::I32,
                3i32.to_be_bytes().to_vec(),
                &frontend,
            ),
        ]),
        debug: None,
        timestamp: None,
        duration: None,
        trace_id_high: None,
    }
}

#[tokio::test]
async fn zipkin_v1_thrift_over_http_and_udp_5775_reads_back_like_v1_json() {
    let c = TestCollector::start().await;
    let r = c
        .post_to(
            c.zipkin,
            "/api/v1/spans",
            Some("application/x-thrift"),
            None,
            jaeger_wire::zipkin_list_binary(&[v1_thrift_span(0xd1)]),
        )
        .await;
    assert_eq!(r.status(), 202);
    c.wait_trace(&format!("{:032x}", 0xd1), 2).await;
    let over_http = v3(&c, &format!("{:032x}", 0xd1)).await;
    let (_, client) = over_http.iter().find(|(_, s)| s["kind"] == 3).unwrap();
    let (server_res, server) = over_http.iter().find(|(_, s)| s["kind"] == 2).unwrap();
    assert_eq!(client["startTimeUnixNano"], (BASE_US * 1000).to_string());
    assert_eq!(
        client["endTimeUnixNano"],
        ((BASE_US + 1000) * 1000).to_string()
    );
    assert!(attrs(client).contains(&("retries".to_owned(), json!({"stringValue": "3"}))));
    assert!(attrs(client).contains(&(
        "server.address".to_owned(),
        json!({"stringValue": "192.0.2.2"})
    )));
    assert_eq!(server_res[0]["value"]["stringValue"], "backend");
    assert_eq!(server["parentSpanId"], "0000000000000001");

    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let datagram = jaeger_wire::emit_zipkin_batch(&[v1_thrift_span(0xd2)]);
    socket.send_to(&datagram, c.zipkin_compact).await.unwrap();
    c.wait_trace(&format!("{:032x}", 0xd2), 2).await;
    let mut over_udp = v3(&c, &format!("{:032x}", 0xd2)).await;
    let mut over_http = over_http;
    for (_, s) in over_http.iter_mut().chain(over_udp.iter_mut()) {
        if s["kind"] == 2 {
            s["spanId"] = json!("derived");
        }
    }
    over_http.sort_by_key(|(_, s)| s["kind"].as_i64());
    over_udp.sort_by_key(|(_, s)| s["kind"].as_i64());
    assert_eq!(over_udp, over_http);
    let stats = c.ingest_stats().await;
    assert_eq!(stats["zipkinV1Thrift"]["spans"], 2);
    assert_eq!(stats["zipkinAgentCompact"]["spans"], 2);
    c.stop().await;
}
