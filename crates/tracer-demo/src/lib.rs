//! The tracer demo system: server1 -http-> server2 -gRPC-> server3 -> Redis + MySQL, with
//! call-backs, a catalogue of fault scenarios and the trace shape each must produce.
//!
//! Work in progress: so far the fault-injecting TCP proxy ([`faults::proxy`]) that puts network
//! faults between server3 and the real Redis and MySQL.

pub mod faults;
