//! Decisions a list or search makes before touching storage: whether a
//! group's member list must be read, whether SQL's rendering already is
//! the answer, and how the root `/.search` pages across resource types.

use crate::schema::{ResourceKind, ResourceTypeDef, GROUP_TYPE};

/// Whether a group read must load its (possibly huge) member list, given
/// the request's `attributes` / `excludedAttributes`.
pub fn wants_members(attributes: Option<&str>, excluded: Option<&str>) -> bool {
    let names_members = |list: &str, whole_only: bool| {
        list.split(',').any(|p| {
            GROUP_TYPE
                .resolve(p.trim())
                .is_some_and(|r| r.attr.name == "members" && (!whole_only || r.sub.is_none()))
        })
    };
    if excluded.is_some_and(|e| names_members(e, true)) {
        return false;
    }
    match attributes.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => names_members(a, false),
        None => true,
    }
}

/// Whether the SQL rendering of a row already is its default projection:
/// no `attributes`, nothing excluded but a group's members, and no member
/// list (whose `display` is returned only on request, so it must be
/// projected away).
pub fn renders_default_projection(
    rt: &ResourceTypeDef,
    attributes: Option<&str>,
    excluded: Option<&str>,
    with_members: bool,
) -> bool {
    let unset = |s: Option<&str>| s.is_none_or(|s| s.trim().is_empty());
    let members_only = |s: Option<&str>| {
        s.is_some_and(|s| {
            GROUP_TYPE
                .resolve(s.trim())
                .is_some_and(|r| r.attr.name == "members" && r.sub.is_none())
        })
    };
    unset(attributes)
        && !hides_extension_attributes(rt)
        && match rt.kind {
            ResourceKind::User => unset(excluded),
            ResourceKind::Group => !with_members && members_only(excluded),
        }
}

/// Whether a registered extension has attributes the default projection
/// must drop (returned "never" or "request"): SQL renders what is stored.
fn hides_extension_attributes(rt: &ResourceTypeDef) -> bool {
    use crate::schema::Returned;
    let hidden = |r: Returned| matches!(r, Returned::Never | Returned::Request);
    rt.extensions.iter().any(|(s, _)| {
        s.attributes
            .iter()
            .any(|a| hidden(a.returned) || a.sub_attributes.iter().any(|x| hidden(x.returned)))
    })
}

/// The entries of an attribute list that exist for `rt` (the root search
/// applies one list to every type).
pub fn known_to(rt: &ResourceTypeDef, list: &str) -> String {
    list.split(',')
        .map(str::trim)
        .filter(|a| rt.resolve(a).is_some() || rt.extension(a).is_some())
        .collect::<Vec<_>>()
        .join(",")
}

/// The root `/.search` lists every type's matches one after the other.
/// For a page (`start` 1-based, `count`) and each type's total, the slice
/// of each type on the page: `Some((startIndex, count))` or `None`.
/// Client numbers may be anything up to `i64::MAX`: saturating arithmetic.
pub fn root_search_slices(start: i64, count: i64, totals: &[i64]) -> Vec<Option<(i64, i64)>> {
    let first = start.max(1).saturating_sub(1);
    let last = first.saturating_add(count.max(0));
    let mut before = 0i64;
    totals
        .iter()
        .map(|&n| {
            let from = first.max(before);
            let to = last.min(before.saturating_add(n));
            let slice = (to > from).then(|| {
                (
                    from.saturating_sub(before).saturating_add(1),
                    to.saturating_sub(from),
                )
            });
            before = before.saturating_add(n);
            slice
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::USER_TYPE;

    #[test]
    fn member_lists_are_read_only_when_the_projection_can_hold_them() {
        assert!(wants_members(None, None));
        assert!(!wants_members(None, Some("members")));
        assert!(wants_members(None, Some("members.display")));
        assert!(wants_members(Some("displayName,members.value"), None));
        assert!(!wants_members(Some("displayName"), None));
        assert!(renders_default_projection(&USER_TYPE, None, None, false));
        assert!(!renders_default_projection(
            &USER_TYPE,
            Some("userName"),
            None,
            false
        ));
        assert!(renders_default_projection(
            &GROUP_TYPE,
            None,
            Some("members"),
            false
        ));
        assert!(!renders_default_projection(&GROUP_TYPE, None, None, true));
    }

    #[test]
    fn root_search_pages_across_types() {
        // 3 users then 2 groups.
        assert_eq!(
            root_search_slices(1, 10, &[3, 2]),
            [Some((1, 3)), Some((1, 2))]
        );
        assert_eq!(
            root_search_slices(3, 2, &[3, 2]),
            [Some((3, 1)), Some((1, 1))]
        );
        assert_eq!(root_search_slices(4, 1, &[3, 2]), [None, Some((1, 1))]);
        assert_eq!(root_search_slices(6, 5, &[3, 2]), [None, None]);
        assert_eq!(root_search_slices(1, 0, &[3, 2]), [None, None]);
        assert_eq!(
            root_search_slices(i64::MAX, i64::MAX, &[3, 2]),
            [None, None]
        );
        assert_eq!(
            root_search_slices(i64::MIN, i64::MAX, &[3, 2]),
            [Some((1, 3)), Some((1, 2))]
        );
        assert_eq!(
            known_to(&GROUP_TYPE, "userName, displayName ,members"),
            "displayName,members"
        );
    }
}
