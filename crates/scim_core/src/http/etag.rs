//! Weak entity tags (RFC 7232): a resource version `n` is `W/"n"`.
//! `If-Match` and `If-None-Match` compare weakly: `W/"3"`, `w/"3"`,
//! `"3"` and `3` all name version 3.

use crate::error::{ScimError, ScimResult};

/// The ETag of version `n`.
pub fn format(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The version an entity tag names, if it names one.
pub fn parse(tag: &str) -> Option<i64> {
    let t = tag.trim();
    let t = t
        .strip_prefix("W/")
        .or_else(|| t.strip_prefix("w/"))
        .unwrap_or(t);
    t.trim_matches('"').parse().ok()
}

/// Whether a list header (`*` or comma-separated tags) names `version`.
pub fn list_matches(header: &str, version: i64) -> bool {
    let header = header.trim();
    header == "*" || header.split(',').any(|t| parse(t) == Some(version))
}

/// `If-Match`: absent, `*` or a listed tag naming the current version
/// passes; anything else is 412.
pub fn check_if_match(if_match: Option<&str>, version: i64) -> ScimResult<()> {
    match if_match.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(()),
        Some(h) if list_matches(h, version) => Ok(()),
        Some(h) => Err(ScimError::precondition_failed(format!(
            "If-Match {h} does not match the current version {}",
            format(version)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_and_strong_forms_name_the_same_version() {
        for t in ["W/\"3\"", "w/\"3\"", "\"3\"", "3", " W/\"3\" "] {
            assert_eq!(parse(t), Some(3), "{t}");
        }
        assert_eq!(parse("W/\"x\""), None);
        assert_eq!(format(7), "W/\"7\"");
        assert_eq!(parse(&format(7)), Some(7));
    }

    #[test]
    fn if_match_and_lists() {
        assert!(check_if_match(None, 2).is_ok());
        assert!(check_if_match(Some(" "), 2).is_ok());
        assert!(check_if_match(Some("*"), 2).is_ok());
        assert!(check_if_match(Some("W/\"1\", w/\"2\""), 2).is_ok());
        let e = check_if_match(Some("W/\"1\""), 2).unwrap_err();
        assert_eq!(e.status, 412);
        assert!(list_matches("\"5\",W/\"6\"", 6));
        assert!(!list_matches("W/\"5\"", 6));
    }
}
