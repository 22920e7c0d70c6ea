//! The gRPC layer: tonic services translating protobuf to application calls.
//! No SQL here; every RPC authenticates and checks its role first.

pub mod admission;
pub mod auth;
pub mod codec;
pub mod convert;
mod disclosure;
/// Feed and export tuning.
pub mod disclosure_options {
    pub use super::disclosure::FeedOptions;
}
mod enforcement;
pub mod feed_ahead;
mod notice;
pub mod page;
pub mod ratelimit;
mod repair;
mod report;
pub mod request_id;
pub mod rpc_metrics;
pub mod served;
pub mod status;

pub use disclosure::{DisclosureApi, change_out};
pub use enforcement::EnforcementApi;
pub use notice::NoticeApi;
pub use repair::CreditRepairApi;
pub use report::ReportApi;

/// Generated protobuf and gRPC code of `gongshi.v1` (kept in [`crate::wire`]).
pub use crate::wire::pb;

/// The encoded file descriptor set, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/gongshi_descriptor.bin"));
