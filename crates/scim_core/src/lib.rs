//! Pure SCIM 2.0 logic shared by the `scim_pg` extension.
//!
//! Nothing here touches Postgres, so every rule can be unit-tested and
//! fuzzed with plain `cargo test`. The extension crate owns storage (SPI)
//! and turns [`error::ScimError`] into SQL errors / HTTP responses.

pub mod casefold;
pub mod error;
pub mod extension;
pub mod filter;
pub mod http;
pub mod interrupt;
pub mod limits;
pub mod patch;
pub mod policy;
pub mod provisioning;
pub mod resource;
pub mod schema;

pub use error::{ScimError, ScimResult, ScimType};
