//! SQL instrumentation for sqlx.
