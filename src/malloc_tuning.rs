//! `scim.malloc_trim_threshold`: how much freed memory a backend keeps
//! from the C allocator instead of handing it back to the kernel.
//!
//! Why: a page of 1,000 users is a few MB of short-lived memory (the
//! rendered users, the page, the response around it). With glibc's
//! adaptive defaults that memory goes back to the kernel when the
//! statement ends (the heap is trimmed, a large block unmapped) and comes
//! back as fresh pages, one page fault per 4 kB touched: 13 % of a cursor
//! page's time at 1M users (perf), and the walk of 1M users ran ~15 %
//! faster with it kept (docs/performance.md). The cost is up to this much
//! free memory held per backend after its largest statement. Applied with
//! `mallopt` (glibc only) when the library loads in a backend and when the
//! setting changes (SIGHUP); 0 leaves the allocator as it is.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};

/// In kB (the GUC's unit): 32 MB, well above a page of 1,000 users.
static TRIM_THRESHOLD_KB: GucSetting<i32> = GucSetting::<i32>::new(32 * 1024);

pub fn register() {
    // SAFETY: the assign hook is pg_guard'ed and cannot fail.
    unsafe {
        GucRegistry::define_int_guc_with_hooks(
            c"scim.malloc_trim_threshold",
            c"Freed memory a backend keeps from the C allocator (glibc) instead of returning it to the kernel after each statement.",
            c"Large responses (list pages, big groups) otherwise fault their memory back in on every statement. 0 leaves glibc's defaults.",
            &TRIM_THRESHOLD_KB,
            0,
            1024 * 1024,
            GucContext::Sighup,
            GucFlags::UNIT_KB,
            None,
            Some(assign_trim_threshold),
            None,
        );
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn assign_trim_threshold(kb: i32, _extra: *mut std::ffi::c_void) {
    apply(i64::from(kb) * 1024);
}

/// Blocks up to `bytes` come from the heap (not a mapping of their own,
/// unmapped when freed), and up to `bytes` of free heap stays with the
/// process.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply(bytes: i64) {
    /// glibc refuses an mmap threshold above HEAP_MAX_SIZE / 2 (32 MB).
    const MMAP_THRESHOLD_MAX: i64 = 32 * 1024 * 1024;
    if bytes <= 0 {
        return;
    }
    let trim = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    let mmap = libc::c_int::try_from(bytes.min(MMAP_THRESHOLD_MAX)).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only sets allocator parameters; a value it rejects
    // (it returns 0) leaves the previous one in force.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, mmap);
        libc::mallopt(libc::M_TRIM_THRESHOLD, trim);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply(_bytes: i64) {}
