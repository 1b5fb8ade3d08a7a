//! The tracer demo system: server1 -http-> server2 -gRPC-> server3 -> Redis + MySQL, with
//! server3 calling server2 back and server2 calling server1 back, server3 publishing each order
//! to RabbitMQ for the worker (which updates Redis and calls server1 back), a catalogue of fault
//! scenarios, and the runner that plays them and checks each trace.
//!
//! - [`server1`], [`server2`], [`server3`]: the services (each also a subcommand of the
//!   `tracer-demo` binary, so each runs as its own process);
//! - [`faults`]: how faults are chosen ([`faults::directive`], the per-request directive carried
//!   as baggage through every hop) and made real ([`faults::proxy`], the TCP proxy that puts
//!   network faults in front of Redis and MySQL);
//! - [`http_forwarding`]: what every HTTP hop shares: the traced client, forwarding downstream
//!   with retries, error replies, the admin routes;
//! - [`call_back_loop`]: the server1 -> server2 -> server3 -> server2 -> ... loop and its limit;
//! - [`shop_data`]: server3's Redis cache and MySQL store, direct and faulty;
//! - [`order_events`]: the `order.placed` event, its exchange and queues, server3's publisher;
//! - [`worker`]: the fourth process, consuming the events (one at a time, dead letters, batches);
//! - [`scenarios`]: the catalogue, one module per group of scenarios, each with its play, its
//!   expected trace tree and its checks;
//! - [`runner`]: `tracer-demo run`, which starts everything and checks every scenario;
//! - [`outage`]: `tracer-demo outage`, the collector down in the middle of a steady load.

pub mod call_back_loop;
pub mod faults;
pub mod http_forwarding;
pub mod order_events;
pub mod outage;
pub mod proto;
pub mod runner;
pub mod scenarios;
pub mod server1;
pub mod server2;
pub mod server3;
pub mod shop_data;
pub mod worker;
