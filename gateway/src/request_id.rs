//! `X-Request-Id`: the client's, when it is a plausible id, else a new
//! one; passed to `scim_http` (it lands in the provisioning log) and
//! returned to the client.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

pub fn of(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(generate, str::to_owned)
}

/// 128 bits: a per-process random hash of a sequence number, and the time.
fn generate() -> String {
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let random = std::collections::hash_map::RandomState::new().hash_one(n);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("{random:016x}{:016x}", nanos ^ n)
}
