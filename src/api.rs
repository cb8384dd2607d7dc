//! The SQL API (schema `scim`): resource CRUD. Each function resolves the
//! current tenant, calls the store, projects, and raises SCIM errors as SQL
//! errors (see `error.rs`).

use crate::error::OrRaise;
use crate::store::{self, groups, tenant, users};
use pgrx::prelude::*;
use pgrx::JsonB;
use scim_core::resource::project;
use scim_core::schema::{ResourceKind, ResourceTypeDef, GROUP_TYPE};
use scim_core::ScimResult;
use serde_json::Value;

#[pg_extern]
fn scim_create_user(resource: JsonB) -> JsonB {
    JsonB(
        tenant::current()
            .and_then(|t| users::create(t, &resource.0))
            .or_raise(),
    )
}

#[pg_extern]
fn scim_create_group(resource: JsonB) -> JsonB {
    JsonB(
        tenant::current()
            .and_then(|t| groups::create(t, &resource.0))
            .or_raise(),
    )
}

#[pg_extern]
fn scim_get(
    resource_type: &str,
    id: &str,
    attributes: default!(Option<&str>, "NULL"),
    excluded_attributes: default!(Option<&str>, "NULL"),
) -> JsonB {
    JsonB(get(resource_type, id, attributes, excluded_attributes).or_raise())
}

pub fn get(
    resource_type: &str,
    id: &str,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> ScimResult<Value> {
    let rt = store::resource_type(resource_type)?;
    let t = tenant::current()?;
    let full = match rt.kind {
        ResourceKind::User => users::get(t, id)?,
        ResourceKind::Group => groups::get(t, id, wants_members(attributes, excluded))?,
    };
    project(rt, &full, attributes, excluded)
}

#[pg_extern]
fn scim_replace(
    resource_type: &str,
    id: &str,
    resource: JsonB,
    if_match: default!(Option<&str>, "NULL"),
) -> JsonB {
    JsonB(replace(resource_type, id, &resource.0, if_match).or_raise())
}

pub fn replace(
    resource_type: &str,
    id: &str,
    resource: &Value,
    if_match: Option<&str>,
) -> ScimResult<Value> {
    let rt = store::resource_type(resource_type)?;
    let t = tenant::current()?;
    match rt.kind {
        ResourceKind::User => users::replace(t, id, resource, if_match),
        ResourceKind::Group => groups::replace(t, id, resource, if_match),
    }
}

#[pg_extern]
fn scim_delete(resource_type: &str, id: &str, if_match: default!(Option<&str>, "NULL")) {
    delete(resource_type, id, if_match).or_raise()
}

pub fn delete(resource_type: &str, id: &str, if_match: Option<&str>) -> ScimResult<()> {
    let rt = store::resource_type(resource_type)?;
    let t = tenant::current()?;
    match rt.kind {
        ResourceKind::User => users::delete(t, id, if_match),
        ResourceKind::Group => groups::delete(t, id, if_match),
    }
}

/// Whether a group read must load its (possibly huge) member list.
pub fn wants_members(attributes: Option<&str>, excluded: Option<&str>) -> bool {
    let names_members = |list: &str| {
        list.split(',').any(|p| {
            GROUP_TYPE
                .resolve(p.trim())
                .is_some_and(|r| r.attr.name == "members")
        })
    };
    if excluded.is_some_and(|e| names_members(e) && !e.contains('.')) {
        return false;
    }
    match attributes.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => names_members(a),
        None => true,
    }
}

#[allow(dead_code)]
fn _kind(rt: &ResourceTypeDef) -> ResourceKind {
    rt.kind
}
