//! Span and trace ids for tracer's own spans: random, from `fastrand`'s per-thread wyrand
//! generator (seeded per thread from the standard library's OS-random hash keys).
//!
//! The SDK's `RandomIdGenerator` draws from a per-thread `SmallRng` behind a `RefCell`, ~36
//! instructions per id under callgrind; wyrand in a `Cell` is a multiply and an add. Neither
//! is a cryptographic generator, and neither needs to be: ids must be unique and, for W3C
//! Trace Context Level 2's `random` flag, their low 7 bytes uniformly random, which wyrand's
//! 64-bit outputs are. An all-zero id is invalid in every format, so a zero draw (one in 2^64)
//! becomes 1.

use opentelemetry::trace::{SpanId, TraceId};

/// A new random span id, never invalid.
#[inline]
pub(crate) fn span_id() -> SpanId {
    SpanId::from(fastrand::u64(..).max(1))
}

/// A new random trace id, never invalid.
#[inline]
pub(crate) fn trace_id() -> TraceId {
    TraceId::from(fastrand::u128(..).max(1))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Ids differ between draws and between threads, and every byte takes many values (a
    /// generator stuck at a constant or seeded alike on every thread fails this).
    #[test]
    fn ids_are_distinct_across_draws_and_threads() {
        let draw = || (0..10_000).map(|_| trace_id()).collect::<Vec<_>>();
        let here = draw();
        let there = std::thread::spawn(draw).join().unwrap();
        let all: HashSet<TraceId> = here.iter().chain(&there).copied().collect();
        assert_eq!(all.len(), 20_000);
        for byte in 0..16 {
            let values: HashSet<u8> = here.iter().map(|id| id.to_bytes()[byte]).collect();
            assert!(
                values.len() > 200,
                "byte {byte} took {} values",
                values.len()
            );
        }
        let spans: HashSet<SpanId> = (0..10_000).map(|_| span_id()).collect();
        assert_eq!(spans.len(), 10_000);
        assert!(!spans.contains(&SpanId::INVALID));
    }
}
