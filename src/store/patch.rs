//! PATCH (RFC 7644 §3.5.2): lock the row, apply the operations in memory
//! (scim_core::patch), write the result and the membership delta, bump the
//! version once. Membership changes are INSERT/DELETE deltas: a group's
//! member list is never read (except for an unusual member filter that
//! needs it) nor rewritten, and a membership-only change takes no row lock
//! (its version step is a `scim.member_writes` row).

use super::{groups, members, rows, users, Rendered};
use crate::spi;
use scim_core::patch::{self, MemberDelta};
use scim_core::schema::{ResourceKind, ResourceTypeDef};
use scim_core::ScimResult;
use serde_json::Value;

/// A patched resource: a user as SQL rendered it; a group without its
/// member list (reading 100,000 members back would undo the point of a
/// delta) — `scim_get` returns them.
pub enum Patched {
    User(Rendered),
    Group(Value),
}

/// Apply a PatchOp message. Returns the new representation.
pub fn patch(
    tenant: pgrx::Uuid,
    rt: &ResourceTypeDef,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> ScimResult<Patched> {
    let ops = patch::parse_request(rt, body, &crate::settings::limits())?;
    match rt.kind {
        ResourceKind::User => {
            let (uid, current) = rows::lock_matching(tenant, rt, id, if_match)?;
            let out = patch::apply(rt, &current, &ops, &mut || Ok(vec![]))?;
            scim_core::extension::check_immutable(rt, &current, &out.resource)?;
            if !out.changed || (out.resource == current && out.password.is_none()) {
                return users::get_rendered(tenant, id).map(Patched::User);
            }
            users::write(tenant, uid, out.resource, out.password).map(Patched::User)
        }
        ResourceKind::Group => {
            // Adding and removing named members without If-Match is a pure
            // delta: it holds the group with KEY SHARE instead of the
            // writers' row lock, so IdPs' parallel PATCHes of one group's
            // members do not queue behind each other's commits. Attribute
            // changes, member replacement and conditional requests still
            // lock the row.
            let members_only = if_match.is_none() && patch::member_adds_and_removes_only(rt, &ops);
            let (gid, current) = if members_only {
                rows::key_share(tenant, rt, id)?
            } else {
                rows::lock_matching(tenant, rt, id, if_match)?
            };
            let mut load = || load_members(tenant, gid);
            let out = patch::apply(rt, &current, &ops, &mut load)?;
            scim_core::extension::check_immutable(rt, &current, &out.resource)?;
            let resource_changed = !members_only && out.resource != current;
            let members_changed = apply_delta(tenant, gid, &out.members)?;
            if resource_changed {
                groups::write(tenant, gid, out.resource)?;
            } else if members_changed && members_only {
                members::record_write(tenant, gid)?;
            } else if members_changed {
                groups::touch(tenant, gid)?;
            }
            groups::read(tenant, gid, false).map(Patched::Group)
        }
    }
}

/// Apply a net membership delta; true if any row changed.
fn apply_delta(tenant: pgrx::Uuid, gid: pgrx::Uuid, d: &MemberDelta) -> ScimResult<bool> {
    if d.is_empty() {
        return Ok(false);
    }
    let mut changed = 0;
    if d.clear {
        changed += members::clear(tenant, gid)?;
    }
    changed += members::remove(tenant, gid, &d.remove)?;
    changed += members::add(tenant, gid, &d.add)?;
    Ok(changed > 0)
}

fn load_members(tenant: pgrx::Uuid, gid: pgrx::Uuid) -> ScimResult<Vec<Value>> {
    let v = spi::one_json(
        &format!(
            "SELECT coalesce({}, '[]'::jsonb) FROM (SELECT $1::uuid AS tenant_id, $2::uuid AS id) r",
            super::render::group_members()
        ),
        &[tenant.into(), gid.into()],
    )?;
    Ok(match v {
        Some(Value::Array(a)) => a,
        _ => vec![],
    })
}
