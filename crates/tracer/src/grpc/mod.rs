//! gRPC instrumentation for tonic.
