//! Redis instrumentation for redis-rs.
