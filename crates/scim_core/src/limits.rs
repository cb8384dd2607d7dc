//! What one request may ask for. Each limit bounds a cost a client
//! controls; every cost is linear in these numbers. The extension sets
//! them from GUCs (`scim.max_*`, see the README); [`Limits::default`] holds
//! the documented defaults. Over a limit is 413 (request size) or 400
//! (`tooMany`-like shape), always with a detail naming the limit.

use crate::error::ScimError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Request body size (`scim.max_payload_bytes`; ServiceProviderConfig
    /// `bulk.maxPayloadSize`).
    pub max_payload_bytes: usize,
    /// Operations in one Bulk request (`scim.max_bulk_operations`;
    /// `bulk.maxOperations`).
    pub max_bulk_operations: usize,
    /// Resources in one list page (`scim.max_results`; `filter.maxResults`).
    pub max_results: i64,
    /// Operations in one PATCH request (`scim.max_patch_operations`).
    pub max_patch_operations: usize,
    /// Values in one multi-valued attribute of a request: a PATCH
    /// operation's value array, a group's `members` in POST/PUT
    /// (`scim.max_operation_values`).
    pub max_operation_values: usize,
    /// Password hashes one request may cost (argon2id, tens of ms each); a
    /// Bulk request counts all its operations (`scim.max_password_hashes`).
    pub max_password_hashes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_payload_bytes: 1_048_576,
            max_bulk_operations: 1_000,
            max_results: 1_000,
            max_patch_operations: 1_000,
            max_operation_values: 10_000,
            max_password_hashes: 100,
        }
    }
}

/// The error for a request over `limit` (its GUC name): 413, the request
/// is too large for this server (RFC 7644 §3.7.3 uses 413 for Bulk).
pub fn exceeded(limit: &str, max: usize, what: &str, got: usize) -> ScimError {
    ScimError::new(
        413,
        None,
        format!("{what}: {got} exceeds the limit of {max} ({limit})"),
    )
}
