//! What one HTTP request has learnt about itself on its way through:
//! the credential and tenant (from authentication), the resource it
//! addresses and its version before the write. Kept in backend memory, not
//! in SQL state, because it must outlive the request's sub-transaction:
//! a failed request is logged after its work was rolled back
//! (`scim._http`, src/provisioning_log.rs).

use std::cell::RefCell;

/// The authenticated credential and its tenant's operating settings.
#[derive(Clone, Debug, Default)]
pub struct Credential {
    pub tenant: Option<pgrx::Uuid>,
    pub id: Option<pgrx::Uuid>,
    pub label: Option<String>,
    pub admin: bool,
    /// Requests per second and burst (README "Rate limits").
    pub rate: Option<(f32, i32)>,
    pub log_reads: bool,
    pub log_values: bool,
}

/// The resource one request (or one Bulk operation) addresses.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub resource_type: Option<&'static str>,
    pub resource_id: Option<String>,
    pub version_before: Option<i64>,
}

#[derive(Default)]
struct Context {
    credential: Credential,
    target: Target,
}

thread_local! {
    static CONTEXT: RefCell<Context> = RefCell::new(Context::default());
}

/// A new top-level request: forget the previous one's.
pub fn begin() {
    CONTEXT.with(|c| *c.borrow_mut() = Context::default());
}

pub fn set_credential(credential: Credential) {
    CONTEXT.with(|c| c.borrow_mut().credential = credential);
}

pub fn credential() -> Credential {
    CONTEXT.with(|c| c.borrow().credential.clone())
}

pub fn set_target(target: Target) {
    CONTEXT.with(|c| c.borrow_mut().target = target);
}

/// The version of a row a request is about to write, read under its row
/// lock (src/store/rows.rs): the first one read of the request's own
/// target is its version before, with no statement of its own.
pub fn note_version_before(resource_type: &str, id: &pgrx::Uuid, version: i64) {
    CONTEXT.with(|c| {
        let target = &mut c.borrow_mut().target;
        let addressed = target.resource_type == Some(resource_type)
            && target
                .resource_id
                .as_deref()
                .and_then(|s| uuid::Uuid::parse_str(s.trim()).ok())
                .is_some_and(|u| u.as_bytes() == id.as_bytes());
        if addressed && target.version_before.is_none() {
            target.version_before = Some(version);
        }
    })
}

/// The target of the request that just ended, cleared (the next Bulk
/// operation, or the Bulk request itself, starts without one).
pub fn take_target() -> Target {
    CONTEXT.with(|c| std::mem::take(&mut c.borrow_mut().target))
}
