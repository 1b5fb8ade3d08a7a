//! The demo's gRPC API, `shop.v1.Shop` (server3), generated from `proto/shop.proto`.

#[allow(clippy::all, missing_docs, unreachable_pub)]
#[path = "shop.v1.rs"]
mod shop_v1;

pub use shop_v1::shop_client::ShopClient;
pub use shop_v1::shop_server::{Shop, ShopServer};
pub use shop_v1::{
    GetProductRequest, ListProductsRequest, LoopReply, LoopRequest, OrderReceipt,
    PlaceOrderRequest, Product, ProductList,
};
