//! Statement-level triggers written in Rust, for the ones every SCIM write
//! fires: the change feed of users and groups, and the policy
//! notifications of users (and the notice that `scim.tenants` changed).
//! As PL/pgSQL they cost more than the work they did (measured: ~85 µs
//! per single-row create for two triggers whose useful part is one INSERT
//! and, usually, nothing); here they read the statement's transition
//! tables in place ([`transition`]) and run one kept plan only when there
//! is something to record.

pub mod change_feed;
pub mod policy_users;
pub mod tenants;
pub mod transition;
