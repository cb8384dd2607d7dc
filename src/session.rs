//! Credential-bound SQL sessions: `scim_session(token)` fixes the current
//! tenant to the token's for the rest of the transaction. Members of
//! `scim_tenant_app` must do that: for them the GUC `scim.tenant` alone is
//! refused, so an application holding one tenant's token cannot name
//! another tenant.

use crate::auth;
use crate::error::OrRaise;
use crate::store::tenant::{self, local_xid};
use crate::store::uuid_text;
use pgrx::prelude::*;
use scim_core::{ScimError, ScimResult};
use std::cell::RefCell;

thread_local! {
    /// The tenant `scim_session(token)` fixed, and the transaction it holds for.
    static BOUND: RefCell<Option<(pgrx::Uuid, u32)>> = const { RefCell::new(None) };
}

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
    let xact = local_xid();
    BOUND.with(|b| *b.borrow_mut() = Some((t, xact)));
    Ok(t)
}

/// The tenant a bound session imposes, given the GUC's value: `None` when
/// this transaction is not bound and the caller may choose by GUC; an
/// error when the caller must bind first (401) or switched the GUC away
/// from the bound tenant (403).
pub fn fixed_tenant(setting: Option<&str>) -> Option<ScimResult<pgrx::Uuid>> {
    let xact = local_xid();
    let bound = BOUND.with(|b| b.borrow().filter(|(_, x)| *x == xact).map(|(t, _)| t));
    match bound {
        // scim_session set the GUC to this id; anything else is an attempt
        // to switch tenants.
        Some(t) if setting.is_some_and(|s| s != uuid_text(&t)) => Some(Err(ScimError::new(
            403,
            None,
            "the tenant is fixed by scim_session() for this transaction",
        ))),
        Some(t) => Some(Ok(t)),
        None if must_bind() => Some(Err(ScimError::new(
            401,
            None,
            "this role gets its tenant from a token: call scim.scim_session(token) in this transaction first",
        ))),
        None => None,
    }
}

/// Whether the calling role may only use a token-bound tenant: a member of
/// `scim_tenant_app` that is not a superuser. The caller is the outer
/// (session or SET ROLE) user: the API functions run as their owner.
fn must_bind() -> bool {
    // SAFETY: catalog lookups through the syscache on the backend's thread.
    unsafe {
        let caller = pg_sys::GetOuterUserId();
        if pg_sys::superuser_arg(caller) {
            return false;
        }
        let role = pg_sys::get_role_oid(c"scim_tenant_app".as_ptr(), true);
        role != pg_sys::InvalidOid && pg_sys::has_privs_of_role(caller, role)
    }
}
