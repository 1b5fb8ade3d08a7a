//! The tracer collector: OTLP ingest, a bounded in-memory store and a Jaeger-compatible query API (in progress).
