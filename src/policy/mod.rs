//! Policy engine: SQL functions over scim_core::policy (owned by the policy work).
