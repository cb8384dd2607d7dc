//! The protocol surface of `scim_http`, minus storage: routing a method and
//! path, reading query parameters and search bodies, and the discovery
//! documents. The extension's dispatcher wires these to the store.

pub mod bulk;
pub mod discovery;
pub mod query;
pub mod route;

/// Largest request body accepted anywhere (also Bulk's maxPayloadSize).
pub const MAX_PAYLOAD_BYTES: usize = 1_048_576;
/// Bulk maxOperations.
pub const MAX_BULK_OPERATIONS: usize = 1000;
/// filter.maxResults: the largest page a list returns.
pub const MAX_RESULTS: i64 = 1000;
/// Page size when the client gives no `count`.
pub const DEFAULT_COUNT: i64 = 100;
