//! The current tenant (GUC `scim.tenant`; unset = the default tenant).
//!
//! The GUC is read directly (no SPI). A named or uuid setting is resolved
//! by `scim.current_tenant()` once per backend and value, then cached:
//! tenants are never renamed, and the SQL API resolves it on every call.

use super::spi;
use pgrx::pg_sys;
use scim_core::{ScimError, ScimResult};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;

/// The built-in default tenant (all-zero uuid, created by the extension).
fn default_tenant() -> pgrx::Uuid {
    pgrx::Uuid::from_bytes([0; 16])
}

thread_local! {
    static RESOLVED: RefCell<HashMap<String, pgrx::Uuid>> = RefCell::new(HashMap::new());
}

pub fn setting() -> Option<String> {
    // SAFETY: GetConfigOption returns NULL or a pointer to the GUC's
    // current NUL-terminated value, valid until the next GUC change; we
    // copy it at once.
    unsafe {
        let p = pg_sys::GetConfigOption(c"scim.tenant".as_ptr(), true, false);
        (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

pub fn current() -> ScimResult<pgrx::Uuid> {
    let Some(s) = setting().filter(|s| !s.is_empty()) else {
        return Ok(default_tenant());
    };
    if let Some(t) = RESOLVED.with(|m| m.borrow().get(&s).copied()) {
        return Ok(t);
    }
    // Raises 400 invalidValue for an unknown tenant.
    let t = spi::one::<pgrx::Uuid>("SELECT scim.current_tenant()", &[])?
        .ok_or_else(|| ScimError::new(500, None, "no current tenant"))?;
    RESOLVED.with(|m| m.borrow_mut().insert(s, t));
    Ok(t)
}
