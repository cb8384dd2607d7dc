//! The current tenant for SQL-language API functions, resolved like the
//! Rust API does: a `scim_session` binding is enforced (members of
//! `scim_tenant_app` cannot pick a tenant by GUC), which the plain SQL
//! `scim.current_tenant()` does not do.

use crate::error::OrRaise;
use crate::store::tenant;
use pgrx::prelude::*;

#[pg_extern(name = "_api_tenant")]
fn api_tenant() -> pgrx::Uuid {
    tenant::current().or_raise()
}
