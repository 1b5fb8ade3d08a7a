//! Fault injection. Network faults to Redis and MySQL come from a TCP proxy in front of the real
//! server ([`proxy`]), never from faked client errors.

pub mod proxy;
