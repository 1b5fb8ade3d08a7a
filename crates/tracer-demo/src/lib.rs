//! The tracer demo system: server1 -http-> server2 -gRPC-> server3 -> Redis + MySQL, with
//! server3 calling server2 back and server2 calling server1 back, a catalogue of fault scenarios,
//! and the runner that plays them and checks each trace.
//!
//! - [`server1`], [`server2`], [`server3`]: the services (each also a subcommand of the
//!   `tracer-demo` binary, so each runs as its own process);
//! - [`directive`]: the per-request fault directive, carried as baggage through every hop;
//! - [`faults::proxy`]: the TCP proxy that puts real network faults in front of Redis and MySQL;
//! - [`store`]: server3's Redis cache and MySQL store, direct and faulty;
//! - [`scenarios`]: the catalogue, with each scenario's expected trace tree;
//! - [`runner`]: `tracer-demo run`, which starts everything and checks every scenario;
//! - [`outage`]: `tracer-demo outage`, the collector down in the middle of a steady load.

pub mod directive;
pub mod faults;
pub mod hop;
pub mod loops;
pub mod outage;
pub mod proto;
pub mod runner;
pub mod scenarios;
pub mod server1;
pub mod server2;
pub mod server3;
pub mod store;
