//! The two sides a gRPC layer can sit on, as types: [`ServerSide`] and [`ClientSide`] make one
//! generic layer ([`GrpcLayer`](super::GrpcLayer)) two distinct public types, so a client-only
//! setting such as [`server_address`](super::GrpcLayer::server_address) exists only where it
//! means something.

use std::fmt;

use super::status::Side;

mod sealed {
    /// Only this crate's two sides implement [`Role`](super::Role).
    #[allow(unreachable_pub)] // the sealed-trait pattern: public in a private module on purpose
    pub trait Sealed {}
}

/// A side of a gRPC call: [`ServerSide`] or [`ClientSide`] (sealed).
pub trait Role: sealed::Sealed + Copy + Default + fmt::Debug + Send + Sync + 'static {
    /// The side, as a value.
    const SIDE: Side;
}

/// The server side: spans of calls served (`tonic::transport::Server::builder().layer(..)`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerSide;

/// The client side: spans of calls made through a channel.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientSide;

impl sealed::Sealed for ServerSide {}
impl sealed::Sealed for ClientSide {}

impl Role for ServerSide {
    const SIDE: Side = Side::Server;
}

impl Role for ClientSide {
    const SIDE: Side = Side::Client;
}
