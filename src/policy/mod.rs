//! Policy engine: the SQL face of `scim_core::policy`.
//!
//! * [`admin`]: `scim_policy_put` (validation with a precise detail) and the
//!   normalisation hook the `scim.policies` write trigger calls. Binding,
//!   unbinding and the default policy are plpgsql in `sql/policy_admin.sql`,
//!   change notifications in `sql/policy_notify.sql`.
//! * [`engine`]: `effective_policy`, `effective_policy_explain` (kept SPI
//!   plans walk user → transitive groups → bindings in SQL) and the hot path
//!   `policy_allows`: one statement reads the user, their direct groups and
//!   the version of the tenant's policy graph, which [`graph`] keeps in
//!   memory (with the parsed documents both paths use); the decision is
//!   `allows_from`.

pub mod admin;
pub mod engine;
pub mod graph;
