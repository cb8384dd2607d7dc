//! Cancellation points for loops whose length a client controls.
//!
//! This crate has no Postgres dependency, so the host registers how to
//! check for a pending cancel (`statement_timeout`, `pg_cancel_backend`):
//! the extension installs Postgres' `CHECK_FOR_INTERRUPTS`, which aborts
//! the statement from inside the loop. Without a hook (unit tests) a check
//! does nothing.

use std::sync::OnceLock;

static HOOK: OnceLock<fn()> = OnceLock::new();

/// Register the host's interrupt check (once per process; later calls are
/// ignored).
pub fn set_hook(check: fn()) {
    let _ = HOOK.set(check);
}

/// A cancellation point: cheap (one flag test in Postgres), call it once
/// per element of any client-sized loop.
#[inline]
pub fn check() {
    if let Some(f) = HOOK.get() {
        f();
    }
}
