//! Storage access through SPI. Every statement takes the tenant as `$1`
//! and every client value as a bound parameter; SQL text is only ever
//! assembled from our own constants and schema-derived names.

pub mod extensions;
pub mod groups;
pub mod import;
pub mod list;
pub mod members;
pub mod patch;
pub mod render;
pub mod rows;
pub mod tenant;
pub mod users;

use crate::spi::jsonb::JsonbDatum;
use scim_core::schema::{ResourceTypeDef, GROUP_TYPE, USER_TYPE};
use scim_core::{ScimError, ScimResult};
use serde_json::Value;

/// A resource as SQL rendered it (the jsonb datum, no trip through serde),
/// with what its response headers need: version (ETag) and id (Location).
pub struct Rendered {
    pub body: JsonbDatum,
    pub version: i64,
    pub id: pgrx::Uuid,
}

impl Rendered {
    /// As serde JSON, for projecting or editing.
    pub fn to_value(&self) -> ScimResult<Value> {
        self.body.to_value()
    }
}

/// "User"/"Users"/"Group"/"Groups", any case.
pub fn resource_type(name: &str) -> ScimResult<&'static ResourceTypeDef> {
    ResourceTypeDef::by_name(name)
        .or_else(|| ResourceTypeDef::by_endpoint(name))
        .or_else(|| match name.to_ascii_lowercase().as_str() {
            "users" => Some(&USER_TYPE),
            "groups" => Some(&GROUP_TYPE),
            _ => None,
        })
        .ok_or_else(|| ScimError::not_found(format!("unknown resource type '{name}'")))
}

/// Parse a resource id; anything that is not a uuid cannot exist.
pub fn parse_id(rt: &ResourceTypeDef, id: &str) -> ScimResult<pgrx::Uuid> {
    uuid::Uuid::parse_str(id.trim())
        .map(|u| pgrx::Uuid::from_bytes(*u.as_bytes()))
        .map_err(|_| not_found(rt, id))
}

/// The id of a resource being created: a UUIDv7 (RFC 9562), time-ordered
/// with 74 random bits. In an index keyed (tenant_id, id) a new row lands
/// beside the tenant's newest instead of on a random leaf of a large
/// tenant's range, and it costs no OpenSSL call as gen_random_uuid() does
/// (the column default, still used by bulk imports and direct INSERTs).
pub fn new_id() -> pgrx::Uuid {
    pgrx::Uuid::from_bytes(*uuid::Uuid::now_v7().as_bytes())
}

pub fn not_found(rt: &ResourceTypeDef, id: &str) -> ScimError {
    ScimError::not_found(format!("{} '{}' not found", rt.name, id))
}

pub fn uuid_text(u: &pgrx::Uuid) -> String {
    uuid::Uuid::from_bytes(*u.as_bytes()).to_string()
}
