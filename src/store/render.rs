//! The JSON representation of a stored row (`r`), as SQL expressions.
//! They are spliced into the statements that read rows, so the rendering
//! is part of one kept plan (no per-call SQL-function planning). `id`
//! and `meta` come from columns; a user's `groups` and a group's `members`
//! from the membership table. Member `display` is the filter engine's rule
//! (`scim_core::filter::MEMBER_DISPLAY_SQL`), stated there once.

use scim_core::filter::{
    GROUP_LAST_MODIFIED_SQL, GROUP_VERSION_SQL, MEMBER_DISPLAY_JOINS, MEMBER_DISPLAY_SQL,
};
use serde_json::{json, Map, Value};

const META_USER: &str = "jsonb_build_object('id', r.id::text, 'meta', jsonb_build_object(\
'resourceType', 'User', 'created', scim._ts(r.created), 'lastModified', scim._ts(r.last_modified), \
'location', '/Users/' || r.id::text, 'version', 'W/\"' || r.version::text || '\"'))";

/// Group meta: version and lastModified count the membership writes
/// recorded since the row was written (GROUP_VERSION_SQL).
fn meta_group() -> String {
    format!(
        "jsonb_build_object('id', r.id::text, 'meta', jsonb_build_object(\
'resourceType', 'Group', 'created', scim._ts(r.created), 'lastModified', scim._ts({GROUP_LAST_MODIFIED_SQL}), \
'location', '/Groups/' || r.id::text, 'version', 'W/\"' || {GROUP_VERSION_SQL}::text || '\"'))"
    )
}

/// A user's `groups` object (`{}` when it is in none). The list comes in
/// group id order from the `members_member` index (tenant, member, group):
/// the aggregate reads an ordered sub-select, so no sort is set up per
/// user (an `ORDER BY` inside `jsonb_agg` would start one for every row).
const USER_GROUPS: &str = "coalesce((SELECT jsonb_build_object('groups', x.list) \
FROM (SELECT jsonb_agg(o.g) AS list FROM (SELECT jsonb_build_object('value', g.id::text, 'display', g.display_name, \
'$ref', '/Groups/' || g.id::text, 'type', 'direct') AS g \
FROM scim.members m JOIN scim.groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id \
WHERE m.tenant_id = r.tenant_id AND m.member_id = r.id ORDER BY m.group_id) o) x \
WHERE x.list IS NOT NULL), '{}'::jsonb)";

/// A user row `r` of `scim.users` as its SCIM representation. The small
/// objects are joined first so that the stored resource is copied into
/// the result once (each `||` re-encodes both sides).
pub fn user_json() -> String {
    format!("(r.resource || ({META_USER} || {USER_GROUPS}))")
}

/// A user the caller has just inserted, as `user_json()` renders it: the
/// stored resource with `id` and `meta` (a new id is in no group yet). Built
/// from the values the INSERT was given, so its RETURNING has no rendering
/// expression to set up and evaluate (jsonb_build_object, to_char, `||`).
/// Regress 01_users compares it with a read of the same user.
pub fn new_user(
    mut resource: Map<String, Value>,
    id: &pgrx::Uuid,
    created: pgrx::pg_sys::TimestampTz,
    version: i64,
) -> Value {
    let id = super::uuid_text(id);
    let at = timestamp_text(created);
    let meta = json!({
        "resourceType": "User",
        "created": at,
        "lastModified": at,
        "location": format!("/Users/{id}"),
        "version": format!("W/\"{version}\""),
    });
    resource.insert("id".into(), Value::String(id));
    resource.insert("meta".into(), meta);
    Value::Object(resource)
}

/// A timestamp as `scim._ts` prints it: UTC, microseconds, a `Z`
/// (`to_char(timezone('UTC', t), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`), for
/// the years 1–9999 (later ones print as to_char would not: callers pass
/// clock readings).
pub fn timestamp_text(t: pgrx::pg_sys::TimestampTz) -> String {
    const DAY_US: i64 = 86_400_000_000;
    // Postgres counts from 2000-01-01, 10,957 days after 1970-01-01.
    let days = t.div_euclid(DAY_US) + 10_957;
    let in_day = t.rem_euclid(DAY_US);
    let (year, month, day) = civil_from_days(days);
    let secs = in_day / 1_000_000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        in_day % 1_000_000
    )
}

/// Days since 1970-01-01 → proleptic Gregorian (year, month, day)
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A group row `r` of `scim.groups`; `with_members = false` leaves out the
/// (possibly huge) member list.
pub fn group_json(with_members: bool) -> String {
    if with_members {
        format!(
            "(r.resource || {} || coalesce((SELECT jsonb_build_object('members', x.mem) \
             FROM (SELECT {} AS mem) x WHERE x.mem IS NOT NULL), '{{}}'::jsonb))",
            meta_group(),
            group_members()
        )
    } else {
        format!("(r.resource || {})", meta_group())
    }
}

/// The members of group row `r` as a jsonb array in id order, NULL when it
/// has none.
pub fn group_members() -> String {
    format!(
        "(SELECT jsonb_agg(jsonb_build_object('value', m.member_id::text, 'type', m.member_type, \
         'display', {MEMBER_DISPLAY_SQL}, \
         '$ref', CASE WHEN m.member_type = 'User' THEN '/Users/' ELSE '/Groups/' END || m.member_id::text) \
         ORDER BY m.member_id) \
         FROM scim.members m{MEMBER_DISPLAY_JOINS} \
         WHERE m.tenant_id = r.tenant_id AND m.group_id = r.id)"
    )
}

// Tests: a failed expectation is meant to panic.
#[cfg(any(test, feature = "pg_test"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[pgrx::pg_schema]
mod tests {
    use super::timestamp_text;
    use pgrx::prelude::*;

    /// timestamp_text prints what scim._ts prints: 2,000 instants spread
    /// over 1970–2200 (leap days, centuries, 2000 and 2100 included), the
    /// epochs themselves and instants around midnight.
    #[pg_test]
    fn timestamps_print_as_sql_does() {
        let mut t: Vec<i64> = vec![
            0,
            -1,
            1,
            86_399_999_999,
            86_400_000_000,
            -946_684_800_000_000,
        ];
        let mut x: u64 = 88172645463325252;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // 1970-01-01 .. ~2200, in µs since 2000-01-01
            t.push((x % 7_258_118_400_000_000) as i64 - 946_684_800_000_000);
        }
        for v in t {
            let sql = Spi::get_one_with_args::<String>(
                "SELECT scim._ts('2000-01-01 00:00:00+00'::timestamptz + $1 * interval '1 microsecond')",
                &[v.into()],
            )
            .unwrap()
            .unwrap();
            assert_eq!(timestamp_text(v), sql, "{v}");
        }
    }
}
