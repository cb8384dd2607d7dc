//! PATCH `path` grammar (RFC 7644 §3.5.2, Figure 7):
//!
//! ```text
//! PATH = attrPath / valuePath [ "." subAttr ]
//! attrPath  = [ URN ":" ] ATTRNAME [ "." subAttr ]
//! valuePath = attrPath "[" valFilter "]"
//! ```
//!
//! plus a bare extension schema URN (`urn:…:enterprise:2.0:User`) naming
//! the whole extension. Names resolve case-insensitively against the
//! resource type's schemas; anything unknown or malformed is a 400
//! `invalidPath`.

use super::selector::ValueSelector;
use crate::error::{ScimError, ScimResult};
use crate::schema::{AttrType, ResolvedAttr, ResourceTypeDef, SchemaDef};
use std::fmt;

/// A parsed, schema-resolved PATCH path.
#[derive(Clone, Debug)]
pub struct PatchPath {
    /// The path as the client sent it (for error details).
    pub raw: String,
    pub target: Target,
}

#[derive(Clone, Debug)]
pub enum Target {
    /// A whole extension, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    Extension(&'static SchemaDef),
    /// `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`, each
    /// optionally URN-qualified. With a filter, `attr.attr` is a
    /// multi-valued complex attribute and `attr.sub` the sub-attribute
    /// after the brackets.
    Attr {
        attr: ResolvedAttr,
        filter: Option<Box<ValueSelector>>,
    },
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Parse and resolve `raw` against `rt`.
pub fn parse_path(rt: &ResourceTypeDef, raw: &str) -> ScimResult<PatchPath> {
    let path = raw.trim();
    if path.is_empty() {
        return Err(ScimError::invalid_path("'path' must not be empty"));
    }
    let target = match path.find('[') {
        None => {
            if let Some(ext) = rt.extension(path) {
                Target::Extension(ext)
            } else {
                let attr = rt.resolve(path).ok_or_else(|| unknown(rt, path))?;
                Target::Attr { attr, filter: None }
            }
        }
        Some(open) => {
            let head = &path[..open];
            let close = open
                + 1
                + closing_bracket(&path[open + 1..]).ok_or_else(|| {
                    ScimError::invalid_path(format!("unterminated '[' in path '{}'", path))
                })?;
            let inner = &path[open + 1..close];
            let rest = &path[close + 1..];
            let parent = rt.resolve(head).ok_or_else(|| unknown(rt, head))?;
            let mut attr = parent;
            if attr.sub.is_some() || !attr.attr.multi_valued || attr.attr.ty != AttrType::Complex {
                return Err(ScimError::invalid_path(format!(
                    "'{}' is not a multi-valued complex attribute, so '{}' cannot select values of it",
                    head, path
                )));
            }
            if !rest.is_empty() {
                let sub_name = rest.strip_prefix('.').ok_or_else(|| {
                    ScimError::invalid_path(format!(
                        "unexpected '{}' after ']' in path '{}'",
                        rest, path
                    ))
                })?;
                attr.sub = Some(attr.attr.sub(sub_name).ok_or_else(|| {
                    ScimError::invalid_path(format!(
                        "unknown attribute '{}.{}' in path '{}'",
                        attr.attr.name, sub_name, path
                    ))
                })?);
            }
            let filter = ValueSelector::parse(rt, &parent, inner)?;
            Target::Attr {
                attr,
                filter: Some(Box::new(filter)),
            }
        }
    };
    Ok(PatchPath {
        raw: path.to_string(),
        target,
    })
}

fn unknown(rt: &ResourceTypeDef, path: &str) -> ScimError {
    ScimError::invalid_path(format!(
        "unknown attribute '{}' for {} resources",
        path, rt.name
    ))
}

/// Byte offset (in `s`) of the `]` closing a value filter; brackets inside
/// string literals do not count.
fn closing_bracket(s: &str) -> Option<usize> {
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
        } else if c == ']' {
            return Some(i);
        } else if c == '[' {
            return None; // nested brackets are not part of the grammar
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScimType;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_TYPE, USER_TYPE};

    fn attr_of(p: &PatchPath) -> (String, bool) {
        match &p.target {
            Target::Attr { attr, filter } => (attr.canonical_path(), filter.is_some()),
            Target::Extension(s) => (s.id.to_string(), false),
        }
    }

    #[test]
    fn plain_dotted_and_urn_paths_resolve_to_canonical_names() {
        let cases = [
            ("userName", "userName"),
            ("NAME.familyname", "name.familyName"),
            ("externalId", "externalId"),
            ("emails", "emails"),
            ("emails.value", "emails.value"),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
                "name.givenName",
            ),
        ];
        for (raw, want) in cases {
            let p = parse_path(&USER_TYPE, raw).unwrap();
            assert_eq!(attr_of(&p), (want.to_string(), false), "{raw}");
        }
        let p = parse_path(&USER_TYPE, ENTERPRISE_USER_SCHEMA).unwrap();
        assert!(matches!(p.target, Target::Extension(s) if s.id == ENTERPRISE_USER_SCHEMA));
    }

    #[test]
    fn value_paths_carry_filter_and_sub_attribute() {
        let p = parse_path(&USER_TYPE, r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(attr_of(&p), ("emails.value".into(), true));
        let Target::Attr {
            filter: Some(f), ..
        } = &p.target
        else {
            panic!()
        };
        assert_eq!(f.raw(), r#"type eq "work""#);
        // A ']' inside a string literal does not close the filter.
        let p = parse_path(&GROUP_TYPE, r#"members[value eq "a]b"]"#).unwrap();
        let Target::Attr {
            filter: Some(f),
            attr,
        } = &p.target
        else {
            panic!()
        };
        assert_eq!(attr.attr.name, "members");
        assert_eq!(f.member_ids().unwrap(), ["a]b"]);
        assert!(f.matches(&serde_json::json!({"value": "a]b"})));
        assert!(!f.matches(&serde_json::json!({"value": "A]B"})));
        let p = parse_path(&USER_TYPE, r#"ADDRESSES[Type eq "work"].StreetAddress"#).unwrap();
        assert_eq!(attr_of(&p), ("addresses.streetAddress".into(), true));
    }

    #[test]
    fn bad_paths_are_invalid_path_with_a_precise_detail() {
        let cases = [
            ("", "must not be empty"),
            ("   ", "must not be empty"),
            ("nope", "unknown attribute 'nope'"),
            ("name.nope", "unknown attribute 'name.nope'"),
            ("urn:x:y:z", "unknown attribute 'urn:x:y:z'"),
            (r#"emails[type eq "work""#, "unterminated '['"),
            (
                r#"emails[type eq "work"]value"#,
                "unexpected 'value' after ']'",
            ),
            (
                r#"emails[type eq "work"].nope"#,
                "unknown attribute 'emails.nope'",
            ),
            (
                r#"userName[value eq "x"]"#,
                "not a multi-valued complex attribute",
            ),
            (
                r#"name[givenName eq "x"]"#,
                "not a multi-valued complex attribute",
            ),
            (r#"emails[]"#, "empty value filter"),
            (
                r#"emails[nope eq "x"]"#,
                "invalid value filter in 'emails[nope eq \"x\"]'",
            ),
            (r#"emails[type eq]"#, "invalid value filter"),
            (r#"emails[value.x eq "a"]"#, "invalid value filter"),
            (r#"emails[type eq "a"[x]]"#, "unterminated '['"),
            ("members", "unknown attribute 'members' for User"),
        ];
        for (raw, needle) in cases {
            let e = parse_path(&USER_TYPE, raw).unwrap_err();
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some(ScimType::InvalidPath)),
                "{raw}"
            );
            assert!(e.detail.contains(needle), "{raw}: {}", e.detail);
        }
        let e = parse_path(&GROUP_TYPE, "userName").unwrap_err();
        assert!(e.detail.contains("for Group resources"), "{}", e.detail);
    }
}
