//! The current tenant (GUC `scim.tenant`; unset = the default tenant).
//!
//! The GUC is read directly (no SPI). A named or uuid setting is resolved
//! like `scim.current_tenant()` does, and the answer kept only while nothing that
//! could change it can have happened: same transaction, same
//! subtransaction, same command id and the same snapshot contents. A
//! rolled-back create, a delete and re-create, or a rename (ours or another
//! session's, once our snapshot can see it) all change one of those, so a
//! stale uuid is never returned. Many calls in one statement (e.g.
//! `policy_allows` over a table) still resolve once.

use crate::spi;
use pgrx::pg_sys;
use scim_core::{ScimError, ScimResult};
use std::cell::RefCell;

/// The built-in default tenant (all-zero uuid, created by the extension).
fn default_tenant() -> pgrx::Uuid {
    pgrx::Uuid::from_bytes([0; 16])
}

/// Everything whose change may change what `scim.tenants` looks like to us.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Visibility {
    local_xid: u32,
    subxid: u32,
    command: u32,
    /// xmin, xmax and the number of running (sub)transactions of the
    /// active snapshot: a later snapshot with equal values sees exactly the
    /// same committed transactions (new xids are never below xmax).
    snapshot: (pg_sys::TransactionId, pg_sys::TransactionId, u32, i32),
}

impl Visibility {
    /// `None` without an active snapshot (then nothing is cached).
    fn now() -> Option<Self> {
        // SAFETY: plain reads of backend-global state on the backend's own
        // thread; MyProc is set for every backend that runs SQL, and the
        // active snapshot pointer is checked before use.
        unsafe {
            if !pg_sys::ActiveSnapshotSet() {
                return None;
            }
            let snap = pg_sys::GetActiveSnapshot();
            if snap.is_null() || pg_sys::MyProc.is_null() {
                return None;
            }
            Some(Self {
                local_xid: local_xid(),
                subxid: pg_sys::GetCurrentSubTransactionId(),
                command: pg_sys::GetCurrentCommandId(false),
                snapshot: ((*snap).xmin, (*snap).xmax, (*snap).xcnt, (*snap).subxcnt),
            })
        }
    }
}

/// This backend's local transaction id (read-only transactions have one
/// too); 0 outside a backend.
pub fn local_xid() -> u32 {
    // SAFETY: MyProc is this backend's own PGPROC (checked for NULL), read
    // on the backend's thread.
    unsafe {
        if pg_sys::MyProc.is_null() {
            return 0;
        }
        proc_lxid(&*pg_sys::MyProc)
    }
}

#[cfg(not(feature = "pg17"))]
fn proc_lxid(p: &pg_sys::PGPROC) -> u32 {
    p.lxid
}

#[cfg(feature = "pg17")]
fn proc_lxid(p: &pg_sys::PGPROC) -> u32 {
    p.vxid.lxid
}

struct Resolved {
    setting: String,
    seen: Visibility,
    tenant: pgrx::Uuid,
}

thread_local! {
    static RESOLVED: RefCell<Option<Resolved>> = const { RefCell::new(None) };
}

/// The tenant a setting names: a uuid (hyphenated form) is an id, anything
/// else a name; unknown is 400, as in `scim.current_tenant()`. One kept
/// plan, one index probe.
fn lookup(setting: &str) -> ScimResult<pgrx::Uuid> {
    let found = match uuid::Uuid::parse_str(setting)
        .ok()
        .filter(|_| setting.len() == 36)
    {
        Some(id) => spi::one::<pgrx::Uuid>(
            "SELECT t.id FROM scim.tenants t WHERE t.id = $1",
            &[pgrx::Uuid::from_bytes(*id.as_bytes()).into()],
        )?,
        None => spi::one::<pgrx::Uuid>(
            "SELECT t.id FROM scim.tenants t WHERE t.name = $1",
            &[setting.into()],
        )?,
    };
    found.ok_or_else(|| {
        ScimError::invalid_value(format!("unknown tenant \"{setting}\" (GUC scim.tenant)"))
    })
}

/// Set `scim.tenant` transaction-locally, directly (no SPI statement:
/// nothing to plan, and it works on a hot standby).
pub fn set_local(value: &str) -> ScimResult<()> {
    let value = std::ffi::CString::new(value)
        .map_err(|_| ScimError::new(500, None, "internal error: tenant setting with NUL"))?;
    // SAFETY: both strings are NUL-terminated and outlive the call, which
    // copies them; errors are raised (elevel ERROR), not returned.
    unsafe {
        pgrx::pg_sys::set_config_option(
            c"scim.tenant".as_ptr(),
            value.as_ptr(),
            pgrx::pg_sys::GucContext::PGC_USERSET,
            pgrx::pg_sys::GucSource::PGC_S_SESSION,
            pgrx::pg_sys::GucAction::GUC_ACTION_LOCAL,
            true,
            pgrx::pg_sys::elog::PgLogLevel::ERROR as i32,
            false,
        );
    }
    Ok(())
}

/// The GUC's value, `None` when unset or empty.
pub fn setting() -> Option<String> {
    crate::settings::string("scim.tenant")
}

pub fn current() -> ScimResult<pgrx::Uuid> {
    let setting = setting();
    // A token-bound session (scim_session) decides, or refuses the GUC.
    if let Some(fixed) = crate::session::fixed_tenant(setting.as_deref()) {
        return fixed;
    }
    let Some(s) = setting else {
        return Ok(default_tenant());
    };
    let seen = Visibility::now();
    let cached = RESOLVED.with(|r| {
        r.borrow()
            .as_ref()
            .filter(|r| seen.is_some_and(|v| v == r.seen) && r.setting == s)
            .map(|r| r.tenant)
    });
    if let Some(t) = cached {
        return Ok(t);
    }
    let tenant = lookup(&s)?;
    // The command id is read after the lookup: SPI may have advanced it.
    if let Some(seen) = Visibility::now() {
        RESOLVED.with(|r| {
            *r.borrow_mut() = Some(Resolved {
                setting: s,
                seen,
                tenant,
            })
        });
    }
    Ok(tenant)
}
