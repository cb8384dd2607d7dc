//! One scim_pg library per session.
//!
//! The library file is versioned (`scim_pg-<version>.so`, see
//! scim_pg.control), so a session that used one version and then calls
//! functions of another (a pooled connection across `ALTER EXTENSION
//! scim_pg UPDATE`) would load a second library beside the first. The two
//! cannot both define the `scim.*` settings, and each would keep its own
//! caches, so the second refuses to load with an error that says to
//! reconnect. Libraries from 0.2.0 on mark the session through a Postgres
//! rendezvous variable (process-wide, made for libraries to find each
//! other); 0.1.0 defines no settings and no mark, so it can share a
//! session with 0.2.0.

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};
use std::ffi::{c_char, c_void, CStr};

const MARK: &CStr = c"scim_pg library version";

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };

/// Mark this session as running this library, or raise (SQLSTATE 55000)
/// when another scim_pg library already did. First thing in `_PG_init`.
pub fn claim_session() {
    // SAFETY: find_rendezvous_variable returns the process's slot for the
    // name (created NULL on first use), valid for the process's life. The
    // slot holds a pointer to a NUL-terminated static string of the
    // library that set it; libraries are never unloaded.
    let other = unsafe {
        let slot = pg_sys::find_rendezvous_variable(MARK.as_ptr());
        if slot.is_null() {
            return;
        }
        if (*slot).is_null() {
            *slot = VERSION.as_ptr() as *mut c_void;
            return;
        }
        CStr::from_ptr(*slot as *const c_char)
            .to_string_lossy()
            .into_owned()
    };
    ErrorReport::new(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!(
            "scim_pg library {} cannot be loaded: this session already runs scim_pg library {other}",
            VERSION.to_string_lossy()
        ),
        "scim_pg::library::claim_session",
    )
    .set_hint(
        "Reconnect: after ALTER EXTENSION scim_pg UPDATE, sessions that used the previous version need a new \
         connection (and shared_preload_libraries, if it lists scim_pg, the new library's name).",
    )
    .report(PgLogLevel::ERROR);
}
