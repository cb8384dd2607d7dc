//! Groups: create, read, replace, delete. Members live in scim.members.

use super::{members, not_found, parse_id, render, rows};
use crate::spi;
use crate::spi::jsonb::JsonbDatum;
use pgrx::prelude::*;
use scim_core::resource::{self, MemberRef, Normalized};
use scim_core::schema::{ResourceTypeDef, GROUP_TYPE};
use scim_core::{ScimError, ScimResult};
use serde_json::Value;

struct Promoted {
    display_name: String,
    external_id: Option<String>,
}

fn promote(resource: &Value) -> Promoted {
    let s = |k: &str| resource.get(k).and_then(Value::as_str).map(str::to_string);
    Promoted {
        display_name: s("displayName").unwrap_or_default(),
        external_id: s("externalId"),
    }
}

/// A group body may list at most `scim.max_operation_values` members.
fn check_member_count(members: Option<&[MemberRef]>) -> ScimResult<()> {
    let max = crate::settings::limits().max_operation_values;
    match members.map(<[MemberRef]>::len) {
        Some(n) if n > max => Err(scim_core::limits::exceeded(
            "scim.max_operation_values",
            max,
            "members in one group body",
            n,
        )),
        _ => Ok(()),
    }
}

fn taken(name: &str) -> ScimError {
    ScimError::uniqueness(format!("a Group with displayName '{name}' already exists"))
}

pub fn create(tenant: pgrx::Uuid, rt: &ResourceTypeDef, input: &Value) -> ScimResult<Value> {
    let Normalized {
        resource, members, ..
    } = resource::normalize(rt, input)?;
    check_member_count(members.as_deref())?;
    let p = promote(&resource);
    let gid = spi::one::<pgrx::Uuid>(
        "INSERT INTO scim.groups (tenant_id, display_name, external_id, resource, created, last_modified, id)
         VALUES ($1, $2, $3, $4, $5, $5, $6)
         ON CONFLICT DO NOTHING
         RETURNING id",
        &[
            tenant.into(),
            p.display_name.clone().into(),
            p.external_id.into(),
            JsonbDatum::from_value(resource)?.into(),
            // created = lastModified: one clock reading (see users::create).
            pgrx::datetime::clock_timestamp().into(),
            super::new_id().into(),
        ],
    )?
    .ok_or_else(|| taken(&p.display_name))?;
    members::add(tenant, gid, members.as_deref().unwrap_or(&[]))?;
    read(tenant, gid, true)
}

/// Current representation; `with_members = false` skips the member list.
pub fn read(tenant: pgrx::Uuid, gid: pgrx::Uuid, with_members: bool) -> ScimResult<Value> {
    spi::one_json(
        &format!(
            "SELECT {} FROM scim.groups r WHERE r.tenant_id = $1 AND r.id = $2",
            render::group_json(with_members)
        ),
        &[tenant.into(), gid.into()],
    )?
    .ok_or_else(|| ScimError::not_found("Group not found"))
}

pub fn get(tenant: pgrx::Uuid, id: &str, with_members: bool) -> ScimResult<Value> {
    let gid = parse_id(&GROUP_TYPE, id)?;
    read(tenant, gid, with_members).map_err(|_| not_found(&GROUP_TYPE, id))
}

/// Store a new canonical resource (promoted columns too) and bump the version.
pub fn write(tenant: pgrx::Uuid, gid: pgrx::Uuid, resource: Value) -> ScimResult<()> {
    let p = promote(&resource);
    let name = p.display_name.clone();
    let args = vec![
        tenant.into(),
        gid.into(),
        p.display_name.into(),
        p.external_id.into(),
        JsonbDatum::from_value(resource)?.into(),
    ];
    PgTryBuilder::new(|| {
        spi::run(
            "UPDATE scim.groups
                SET display_name = $3, external_id = $4, resource = $5,
                    version = version + 1, last_modified = clock_timestamp()
              WHERE tenant_id = $1 AND id = $2",
            &args,
        )
    })
    .catch_when(PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION, |_| {
        Err(taken(&name))
    })
    .execute()
}

/// Bump the version after a membership change made under the row lock
/// (conditional or mixed requests): a writer waiting for the lock must see
/// the row move (src/store/rows.rs `lock`).
pub fn touch(tenant: pgrx::Uuid, gid: pgrx::Uuid) -> ScimResult<()> {
    spi::run(
        "UPDATE scim.groups SET version = version + 1, last_modified = clock_timestamp()
          WHERE tenant_id = $1 AND id = $2",
        &[tenant.into(), gid.into()],
    )
}

pub fn replace(
    tenant: pgrx::Uuid,
    rt: &ResourceTypeDef,
    id: &str,
    input: &Value,
    if_match: Option<&str>,
) -> ScimResult<Value> {
    let Normalized {
        resource, members, ..
    } = resource::normalize(rt, input)?;
    check_member_count(members.as_deref())?;
    let (gid, current) = rows::lock_matching(tenant, rt, id, if_match)?;
    scim_core::extension::check_immutable(rt, &current, &resource)?;
    write(tenant, gid, resource)?;
    // PUT replaces the member list: an absent `members` clears it
    // (RFC 7644 §3.5.1). Only the difference is written.
    let wanted: Vec<MemberRef> = members.unwrap_or_default();
    members::retain_only(tenant, gid, &wanted)?;
    members::add(tenant, gid, &wanted)?;
    read(tenant, gid, true)
}
