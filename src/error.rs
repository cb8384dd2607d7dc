//! Raising [`ScimError`]s as SQL errors.
//!
//! The SQLSTATE is the closest standard one; the machine-readable SCIM
//! status and scimType travel in DETAIL as JSON, e.g.
//! `DETAIL: {"status":409,"scimType":"uniqueness"}`, and MESSAGE is the
//! human-readable detail. `scim_http` turns them back into SCIM error bodies.

use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;
use scim_core::{ScimError, ScimResult};

fn sqlstate(status: u16) -> PgSqlErrorCode {
    use PgSqlErrorCode::*;
    match status {
        400 => ERRCODE_INVALID_PARAMETER_VALUE,
        401 => ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
        403 => ERRCODE_INSUFFICIENT_PRIVILEGE,
        404 => ERRCODE_NO_DATA_FOUND,
        409 => ERRCODE_UNIQUE_VIOLATION,
        412 => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        413 => ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        501 => ERRCODE_FEATURE_NOT_SUPPORTED,
        _ => ERRCODE_INTERNAL_ERROR,
    }
}

/// The SQLSTATE `raise` gives `e`, as its five characters.
pub fn sqlstate_text(e: &ScimError) -> String {
    sqlstate_chars(sqlstate(e.status))
}

/// An error code as its five SQLSTATE characters.
pub fn sqlstate_chars(code: PgSqlErrorCode) -> String {
    // SAFETY: unpack_sql_state formats any code into a static buffer,
    // copied out at once.
    unsafe { std::ffi::CStr::from_ptr(pgrx::pg_sys::unpack_sql_state(code as i32)) }
        .to_string_lossy()
        .into_owned()
}

/// Abort the current statement with `e`.
pub fn raise(e: &ScimError) -> ! {
    ereport!(
        ERROR,
        sqlstate(e.status),
        e.detail.clone(),
        e.detail_json().to_string()
    );
}

pub trait OrRaise<T> {
    /// Unwrap, or raise the SCIM error as a SQL error.
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for ScimResult<T> {
    fn or_raise(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => raise(&e),
        }
    }
}
