//! The current tenant (GUC `scim.tenant`; unset = the default tenant).
//!
//! The GUC is read directly (no SPI). A named or uuid setting is resolved
//! like `scim.current_tenant()` does, and the answer kept only while nothing
//! that could change it can have happened: same transaction, same
//! subtransaction, no write to `scim.tenants` by this backend since (the
//! statement trigger `tenants_written` counts them) and the same snapshot
//! contents. A rolled-back create, a delete and re-create, or a rename
//! (ours, or another session's once our snapshot can see it) all change one
//! of those, so a stale uuid is never returned. Many calls in one statement
//! (e.g. `policy_allows` over a table, or a create per row) resolve once,
//! and read once whether the tenant has a default policy.

use crate::spi;
use pgrx::pg_sys;
use scim_core::{ScimError, ScimResult};
use std::cell::{Cell, RefCell};

/// The built-in default tenant (all-zero uuid, created by the extension).
fn default_tenant() -> pgrx::Uuid {
    pgrx::Uuid::from_bytes([0; 16])
}

/// Everything whose change may change what `scim.tenants` looks like to us.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Visibility {
    local_xid: u32,
    subxid: u32,
    tenants_written: u64,
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
                tenants_written: TENANTS_WRITTEN.get(),
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

/// One fact read under one view: kept while the view is unchanged.
struct Seen<K, V> {
    key: K,
    seen: Visibility,
    value: V,
}

thread_local! {
    /// Statements of this backend that wrote `scim.tenants` (before and
    /// after each: the trigger `tenants_written`, ENABLE ALWAYS).
    static TENANTS_WRITTEN: Cell<u64> = const { Cell::new(0) };
    static RESOLVED: RefCell<Option<Seen<String, pgrx::Uuid>>> = const { RefCell::new(None) };
    static DEFAULT_POLICY: RefCell<Option<Seen<pgrx::Uuid, bool>>> = const { RefCell::new(None) };
}

/// Called by the trigger `tenants_written` (src/triggers/tenants.rs).
pub fn note_tenants_written() {
    TENANTS_WRITTEN.set(TENANTS_WRITTEN.get().wrapping_add(1));
}

/// `cache`'s value for `key` if it was read under the current view, else
/// `read()` (kept for the next call when there is a view).
fn under_view<K: PartialEq, V: Copy>(
    cache: &'static std::thread::LocalKey<RefCell<Option<Seen<K, V>>>>,
    key: K,
    read: impl FnOnce(&K) -> ScimResult<V>,
) -> ScimResult<V> {
    let seen = Visibility::now();
    let cached = cache.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|e| seen.is_some_and(|v| v == e.seen) && e.key == key)
            .map(|e| e.value)
    });
    if let Some(v) = cached {
        return Ok(v);
    }
    let value = read(&key)?;
    // The view is read again after the read: it may have written (a
    // trigger of ours) or begun a subtransaction.
    if let Some(seen) = Visibility::now() {
        cache.with(|c| *c.borrow_mut() = Some(Seen { key, seen, value }));
    }
    Ok(value)
}

/// Whether `tenant` has a default policy (a new user of it gets that
/// policy), read at most once per view.
pub fn has_default_policy(
    tenant: pgrx::Uuid,
    read: impl FnOnce(&pgrx::Uuid) -> ScimResult<bool>,
) -> ScimResult<bool> {
    under_view(&DEFAULT_POLICY, tenant, read)
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
    under_view(&RESOLVED, s, |s| lookup(s))
}
