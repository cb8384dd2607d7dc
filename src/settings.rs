//! The extension's settings (GUCs), registered when the library loads.
//!
//! Every size a client controls has a limit here (see `scim_core::limits`
//! and the README's Limits section). They are `SUSET`: a superuser sets
//! them in postgresql.conf, per database or per role (`ALTER ROLE … SET`);
//! an ordinary session cannot raise its own limits.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;
use scim_core::limits::Limits;
use std::ffi::{CStr, CString};

static PLAN_CACHE_SIZE: GucSetting<i32> = GucSetting::<i32>::new(128);
static MAX_PAYLOAD_BYTES: GucSetting<i32> = GucSetting::<i32>::new(1_048_576);
static MAX_BULK_OPERATIONS: GucSetting<i32> = GucSetting::<i32>::new(1_000);
static MAX_RESULTS: GucSetting<i32> = GucSetting::<i32>::new(1_000);
static MAX_PATCH_OPERATIONS: GucSetting<i32> = GucSetting::<i32>::new(1_000);
static MAX_OPERATION_VALUES: GucSetting<i32> = GucSetting::<i32>::new(10_000);
static MAX_PASSWORD_HASHES: GucSetting<i32> = GucSetting::<i32>::new(100);
static MAX_EXTENSION_SCHEMAS: GucSetting<i32> = GucSetting::<i32>::new(20);
static MAX_EXTENSION_ATTRIBUTES: GucSetting<i32> = GucSetting::<i32>::new(200);
static MAX_EXTENSION_SCHEMA_BYTES: GucSetting<i32> = GucSetting::<i32>::new(65_536);

/// Register the GUCs (from `_PG_init`).
pub fn register() {
    let int = |name: &'static std::ffi::CStr,
               short: &'static std::ffi::CStr,
               setting: &'static GucSetting<i32>,
               min: i32,
               max: i32| {
        GucRegistry::define_int_guc(
            name,
            short,
            c"",
            setting,
            min,
            max,
            GucContext::Suset,
            GucFlags::default(),
        );
    };
    int(
        c"scim.plan_cache_size",
        c"Prepared statements kept per backend (LRU; evicted plans are freed).",
        &PLAN_CACHE_SIZE,
        8,
        100_000,
    );
    int(
        c"scim.max_payload_bytes",
        c"Largest SCIM request body in bytes (ServiceProviderConfig bulk.maxPayloadSize).",
        &MAX_PAYLOAD_BYTES,
        1_024,
        i32::MAX,
    );
    int(
        c"scim.max_bulk_operations",
        c"Operations in one Bulk request (ServiceProviderConfig bulk.maxOperations).",
        &MAX_BULK_OPERATIONS,
        1,
        1_000_000,
    );
    int(
        c"scim.max_results",
        c"Largest page of a list or search (ServiceProviderConfig filter.maxResults).",
        &MAX_RESULTS,
        1,
        1_000_000,
    );
    int(
        c"scim.max_patch_operations",
        c"Operations in one PATCH request.",
        &MAX_PATCH_OPERATIONS,
        1,
        1_000_000,
    );
    int(
        c"scim.max_operation_values",
        c"Values in one PATCH operation, and members in one group body.",
        &MAX_OPERATION_VALUES,
        1,
        10_000_000,
    );
    int(
        c"scim.max_password_hashes",
        c"Passwords one request may set (each costs an argon2id hash); Bulk counts all operations.",
        &MAX_PASSWORD_HASHES,
        0,
        1_000_000,
    );
    int(
        c"scim.max_extension_schemas",
        c"Extension schemas one tenant may register.",
        &MAX_EXTENSION_SCHEMAS,
        0,
        10_000,
    );
    int(
        c"scim.max_extension_attributes",
        c"Attributes (sub-attributes included) in one registered extension schema.",
        &MAX_EXTENSION_ATTRIBUTES,
        1,
        100_000,
    );
    int(
        c"scim.max_extension_schema_bytes",
        c"Size of one extension schema definition as JSON text.",
        &MAX_EXTENSION_SCHEMA_BYTES,
        256,
        16_777_216,
    );
}

/// The limits on registered extension schemas.
pub fn extension_limits() -> scim_core::extension::ExtensionLimits {
    scim_core::extension::ExtensionLimits {
        max_schemas: size(&MAX_EXTENSION_SCHEMAS),
        max_attributes: size(&MAX_EXTENSION_ATTRIBUTES),
        max_definition_bytes: size(&MAX_EXTENSION_SCHEMA_BYTES),
    }
}

fn size(s: &GucSetting<i32>) -> usize {
    usize::try_from(s.get()).unwrap_or(0)
}

pub fn plan_cache_size() -> usize {
    size(&PLAN_CACHE_SIZE)
}

/// The request limits in force for this session.
pub fn limits() -> Limits {
    Limits {
        max_payload_bytes: size(&MAX_PAYLOAD_BYTES),
        max_bulk_operations: size(&MAX_BULK_OPERATIONS),
        max_results: i64::from(MAX_RESULTS.get()),
        max_patch_operations: size(&MAX_PATCH_OPERATIONS),
        max_operation_values: size(&MAX_OPERATION_VALUES),
        max_password_hashes: size(&MAX_PASSWORD_HASHES),
    }
}

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
