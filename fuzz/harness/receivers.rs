//! Fuzz harness: the decoders of the Jaeger and Zipkin receivers, and the sampling strategies
//! file parser.
//!
//! Shared by the fuzz targets `fuzz/fuzz_targets/{jaeger_*,zipkin_*,sampling_strategies}.rs`
//! and the corpus replay test `crates/tracer-collector/tests/fuzz_corpus.rs` (included there
//! with `#[path]`, next to `otlp.rs`, whose read path this harness reuses).
//!
//! A payload goes through the decoding its receiver runs ([`Format::decode`], then the store's
//! neutral batch) into a store bounded to a few spans; whatever was stored is read back as the
//! query API does and what it serves as OTLP must be accepted again span for span (see
//! `otlp::read_back`). The batch encoded as a forwarder sends it upstream (OTLP protobuf) must
//! decode again to as many spans. A strategies document that parses must answer every service with a
//! strategy that serializes (JSON and protobuf) and whose probabilities are within 0 to 1.

use prost::Message;
use tracer_collector::ingest;
use tracer_collector::ingest::receiver::Format;
use tracer_collector::ingest::strategies::SamplingStrategies;

fn run(format: Format, data: &[u8]) {
    let store = crate::otlp::small_store();
    if let Ok(decoded) = format.decode(data) {
        let batch = decoded.to_batch();
        let forwarded = ingest::otlp::encode::encode(&batch);
        let again = ingest::otlp::protobuf::decode(&forwarded).expect("a forwarded batch decodes");
        assert_eq!(
            again.spans.len(),
            batch.spans.len(),
            "spans lost in forwarding"
        );
        let _ = ingest::store_spans(&store, &batch);
    }
    crate::otlp::read_back(&store);
}

/// An agent `emitBatch` datagram, thrift compact (6831).
pub(crate) fn jaeger_agent_compact(data: &[u8]) {
    run(Format::JaegerAgentCompact, data);
}

/// An agent `emitBatch` datagram, thrift binary (6832).
pub(crate) fn jaeger_agent_binary(data: &[u8]) {
    run(Format::JaegerAgentBinary, data);
}

/// A thrift binary `Batch`, the body of `POST /api/traces` (14268).
pub(crate) fn jaeger_thrift_http(data: &[u8]) {
    run(Format::JaegerThriftBinary, data);
}

/// A protobuf `PostSpansRequest`, the message of `PostSpans` (14250).
pub(crate) fn jaeger_proto(data: &[u8]) {
    run(Format::JaegerProto, data);
}

/// A Zipkin v1 thrift `list<Span>`, the body of `POST /api/v1/spans` (9411).
pub(crate) fn zipkin_v1_thrift(data: &[u8]) {
    run(Format::ZipkinV1Thrift, data);
}

/// An agent `emitZipkinBatch` datagram, thrift compact (5775).
pub(crate) fn zipkin_agent_compact(data: &[u8]) {
    run(Format::ZipkinAgentCompact, data);
}

/// A Zipkin v2 protobuf `ListOfSpans` (`POST /api/v2/spans`).
pub(crate) fn zipkin_v2_proto(data: &[u8]) {
    run(Format::ZipkinV2Proto, data);
}

/// A Zipkin v1 JSON list of spans (`POST /api/v1/spans`).
pub(crate) fn zipkin_v1_json(data: &[u8]) {
    run(Format::ZipkinV1Json, data);
}

/// A Zipkin v2 JSON list of spans (`POST /api/v2/spans`).
pub(crate) fn zipkin_v2_json(data: &[u8]) {
    run(Format::ZipkinV2Json, data);
}

/// A sampling strategies document (`--sampling-strategies FILE`).
pub(crate) fn sampling_strategies(data: &[u8]) {
    let Ok(strategies) = SamplingStrategies::from_json(data) else {
        return;
    };
    // The names a small document is likely to hold, and one it cannot.
    let mut services: Vec<String> = ["", "a", "b", "svc", "\u{0}never-named"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    if let Ok(serde_json::Value::Object(doc)) = serde_json::from_slice(data)
        && let Some(serde_json::Value::Array(list)) = doc.get("service_strategies")
    {
        services.extend(
            list.iter()
                .filter_map(|s| s.get("service")?.as_str().map(str::to_owned)),
        );
    }
    let in_range = |p: f64| (0.0..=1.0).contains(&p);
    for service in &services {
        let strategy = strategies.for_service(service);
        serde_json::to_vec(strategy).expect("a strategy serializes as JSON");
        let proto = strategy.to_proto();
        let _ = proto.encode_to_vec();
        if let Some(p) = strategy.probabilistic_sampling {
            assert!(in_range(p.sampling_rate), "{service}: {strategy:?}");
        }
        if let Some(r) = strategy.rate_limiting_sampling {
            assert!(r.max_traces_per_second >= 0, "{service}: {strategy:?}");
        }
        if let Some(ops) = &strategy.operation_sampling {
            assert!(in_range(ops.default_sampling_probability), "{strategy:?}");
            assert!(
                ops.default_lower_bound_traces_per_second >= 0.0,
                "{strategy:?}"
            );
            for op in &ops.per_operation_strategies {
                assert!(
                    in_range(op.probabilistic_sampling.sampling_rate),
                    "{strategy:?}"
                );
            }
        }
    }
}
