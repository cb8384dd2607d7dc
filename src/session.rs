//! Credential-bound SQL sessions: `scim_session(token)` fixes the current
//! tenant to the token's for the rest of the transaction. Members of
//! `scim_tenant_app` must do that: for them the GUC `scim.tenant` alone is
//! refused, so an application holding one tenant's token cannot name
//! another tenant.

use crate::auth;
use crate::error::OrRaise;
use crate::store::{tenant, uuid_text};
use pgrx::prelude::*;
use scim_core::ScimResult;

/// Authenticate `token` and make its tenant the current tenant until the
/// transaction ends (also in `scim.tenant`, transaction-local, so Row
/// Level Security agrees). Returns the tenant id.
#[pg_extern]
fn scim_session(token: &str) -> pgrx::Uuid {
    bind(token).or_raise()
}

fn bind(token: &str) -> ScimResult<pgrx::Uuid> {
    let t = auth::authenticate(Some(&format!("Bearer {token}")))?;
    tenant::set_local(&uuid_text(&t))?;
    tenant::bind(t);
    Ok(t)
}
