//! Reading settings (GUCs) without SPI.

use pgrx::pg_sys;
use std::ffi::{CStr, CString};

/// The current value of a (possibly custom, possibly unset) setting;
/// `None` when unset or empty.
pub fn string(name: &str) -> Option<String> {
    let name = CString::new(name).ok()?;
    // SAFETY: GetConfigOption (missing_ok) returns NULL or a pointer to the
    // setting's current NUL-terminated value, valid until the next change
    // of that setting; it is copied at once.
    let value = unsafe {
        let p = pg_sys::GetConfigOption(name.as_ptr(), true, false);
        (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
    };
    value.filter(|v| !v.is_empty())
}
