//! Fault injection. A request chooses its faults with a [`directive`] in its baggage; network
//! faults to Redis and MySQL then come from a TCP [`proxy`] in front of the real server, never
//! from faked client errors, and code-level faults (panics, sleeps, errors) from the handlers.

pub mod directive;
pub mod proxy;
