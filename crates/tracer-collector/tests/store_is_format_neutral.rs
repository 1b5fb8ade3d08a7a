//! The store knows no wire format and no tag vocabulary (issue 13): its sources import no
//! OTLP or prost type and spell none of the Jaeger/OpenTelemetry tag names, which live in
//! `src/vocabulary.rs`; decoders live in `src/ingest/`.

use std::path::Path;

/// Names only a decoder or the query API's vocabulary may use.
const FORBIDDEN: [&str; 12] = [
    "opentelemetry_proto",
    "prost",
    "thrift",
    "\"span.kind\"",
    "\"error\"",
    "\"otel.status_code\"",
    "\"otel.status_description\"",
    "\"otel.scope.name\"",
    "\"w3c.tracestate\"",
    "\"event\"",
    "\"service.name\"",
    "\"internal.span.format\"",
];

#[test]
fn store_sources_name_no_wire_format_and_no_tag_vocabulary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for name in FORBIDDEN {
            assert!(
                !text.contains(name),
                "{} mentions {name}: decoding belongs in src/ingest/, tag names in \
                 src/vocabulary.rs",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 5,
        "only {checked} store sources found in {}",
        dir.display()
    );
}
