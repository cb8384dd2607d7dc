//! Policy engine: the SQL face of `scim_core::policy`.
//!
//! * [`admin`]: `scim_policy_put` (validation with a precise detail) and the
//!   normalisation hook the `scim.policies` write trigger calls. Binding,
//!   unbinding, the default policy and change notifications are plpgsql in
//!   `sql/policy.sql`.
//! * [`engine`]: `effective_policy`, `effective_policy_explain` and the hot
//!   path `policy_allows`: one prepared SPI statement (kept across calls)
//!   resolves user → transitive groups → bound policies with their `updated`
//!   stamps, parsed documents come from a backend-local cache keyed by
//!   (tenant, name, updated), and the decision is `allows_from`.

pub mod admin;
pub mod engine;
