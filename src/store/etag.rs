//! Weak ETags (`W/"<version>"`) and If-Match evaluation.

use scim_core::{ScimError, ScimResult};

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The opaque part of an entity tag: `W/"3"`, `"3"` and `3` all give `3`.
fn opaque(tag: &str) -> &str {
    let t = tag.trim();
    let t = t
        .strip_prefix("W/")
        .or_else(|| t.strip_prefix("w/"))
        .unwrap_or(t);
    t.trim_matches('"')
}

/// RFC 7232 If-Match with weak comparison: `*` or any listed tag matching
/// the current version passes; anything else is 412.
pub fn check_if_match(if_match: Option<&str>, version: i64) -> ScimResult<()> {
    let Some(header) = if_match.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let current = version.to_string();
    if header == "*" || header.split(',').any(|t| opaque(t) == current) {
        return Ok(());
    }
    Err(ScimError::precondition_failed(format!(
        "If-Match {header} does not match the current version {}",
        etag(version)
    )))
}
