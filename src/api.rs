//! The SQL API (schema `scim`): resource CRUD. Each SQL function resolves
//! the current tenant (GUC `scim.tenant`) and calls the tenant-explicit
//! function below it, which `scim_http` shares (there the tenant comes from
//! the bearer token instead).

use crate::error::OrRaise;
use crate::spi::jsonb::{JsonArg, JsonbDatum};
use crate::store::{self, groups, tenant, users};
use pgrx::prelude::*;
use pgrx::JsonB;
use scim_core::http::discovery::list_head;
use scim_core::http::query::ListParams;
use scim_core::resource::project;
use scim_core::schema::{ResourceKind, ResourceTypeDef, GROUP_TYPE, USER_TYPE};
use scim_core::ScimResult;
use serde_json::Value;

type Tenant = pgrx::Uuid;

/// Version and build profile, e.g. `0.1.0 (release)` — benchmarks check it.
#[pg_extern(immutable, parallel_safe)]
fn scim_build_info() -> String {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    format!("{} ({profile})", env!("CARGO_PKG_VERSION"))
}

#[pg_extern]
fn scim_create_user(resource: JsonArg) -> JsonB {
    JsonB(
        resource
            .value()
            .and_then(|r| create(tenant::current()?, &USER_TYPE, &r))
            .or_raise(),
    )
}

#[pg_extern]
fn scim_create_group(resource: JsonArg) -> JsonB {
    JsonB(
        resource
            .value()
            .and_then(|r| create(tenant::current()?, &GROUP_TYPE, &r))
            .or_raise(),
    )
}

/// Every response carries the default projection (`returned` rules: never
/// `password`, `members.display` only on request).
pub fn create(t: Tenant, rt: &ResourceTypeDef, resource: &Value) -> ScimResult<Value> {
    let created = match rt.kind {
        ResourceKind::User => users::create(t, resource)?,
        ResourceKind::Group => groups::create(t, resource)?,
    };
    project(rt, &created, None, None)
}

#[pg_extern]
fn scim_get(
    resource_type: &str,
    id: &str,
    attributes: default!(Option<&str>, "NULL"),
    excluded_attributes: default!(Option<&str>, "NULL"),
) -> JsonB {
    let r = store::resource_type(resource_type).and_then(|rt| {
        let full = get_full(tenant::current()?, rt, id, attributes, excluded_attributes)?;
        project(rt, &full, attributes, excluded_attributes)
    });
    JsonB(r.or_raise())
}

/// The stored representation before projection (group members are only
/// loaded when the projection can include them).
pub fn get_full(
    t: Tenant,
    rt: &ResourceTypeDef,
    id: &str,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> ScimResult<Value> {
    match rt.kind {
        ResourceKind::User => users::get(t, id),
        ResourceKind::Group => groups::get(t, id, wants_members(attributes, excluded)),
    }
}

#[pg_extern]
fn scim_replace(
    resource_type: &str,
    id: &str,
    resource: JsonArg,
    if_match: default!(Option<&str>, "NULL"),
) -> JsonB {
    let r = store::resource_type(resource_type).and_then(|rt| {
        let resource = resource.value()?;
        replace(tenant::current()?, rt, id, &resource, if_match)
    });
    JsonB(r.or_raise())
}

pub fn replace(
    t: Tenant,
    rt: &ResourceTypeDef,
    id: &str,
    resource: &Value,
    if_match: Option<&str>,
) -> ScimResult<Value> {
    let replaced = match rt.kind {
        ResourceKind::User => users::replace(t, id, resource, if_match)?,
        ResourceKind::Group => groups::replace(t, id, resource, if_match)?,
    };
    project(rt, &replaced, None, None)
}

#[pg_extern]
fn scim_delete(resource_type: &str, id: &str, if_match: default!(Option<&str>, "NULL")) {
    store::resource_type(resource_type)
        .and_then(|rt| delete(tenant::current()?, rt, id, if_match))
        .or_raise()
}

pub fn delete(t: Tenant, rt: &ResourceTypeDef, id: &str, if_match: Option<&str>) -> ScimResult<()> {
    store::rows::delete(t, rt, id, if_match)
}

/// Whether a group read must load its (possibly huge) member list.
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

/// A ListResponse, as SQL built it or as Rust projected it.
enum ListBody {
    Datum(JsonbDatum),
    Json(Value),
}

/// A ListResponse for `rt`. With the default projection of a
/// representation SQL renders exactly (users; groups without members) the
/// page SQL built is appended to the header as it is; otherwise each
/// resource is projected in Rust.
fn list_body(t: Tenant, rt: &ResourceTypeDef, p: &ListParams) -> ScimResult<ListBody> {
    let (attrs, excl) = (p.attributes.as_deref(), p.excluded_attributes.as_deref());
    let with_members = wants_members(attrs, excl);
    let page = store::list::list(t, rt, p, with_members)?;
    let mut head = list_head(page.total, page.start_index, page.returned);
    if let (Some(c), Some(h)) = (&page.next_cursor, head.as_object_mut()) {
        h.insert("nextCursor".into(), Value::String(c.clone()));
    }
    if renders_default_projection(rt, attrs, excl, with_members) {
        let head = JsonbDatum::from_text(&head.to_string())?;
        return Ok(ListBody::Datum(head.concat(page.resources)?));
    }
    let mut page_json = page.resources.to_value()?;
    let resources = match page_json.get_mut("Resources").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let projected = resources
        .iter()
        .map(|r| project(rt, r, attrs, excl))
        .collect::<ScimResult<Vec<_>>>()?;
    if let Some(h) = head.as_object_mut() {
        h.insert("Resources".into(), Value::Array(projected));
    }
    Ok(ListBody::Json(head))
}

/// A ListResponse as a jsonb datum (`scim_list`).
pub fn list_datum(t: Tenant, rt: &ResourceTypeDef, p: &ListParams) -> ScimResult<JsonbDatum> {
    Ok(match list_body(t, rt, p)? {
        ListBody::Datum(d) => d,
        ListBody::Json(v) => JsonbDatum::from_value(v)?,
    })
}

/// A ListResponse as serde JSON (`GET /Users`, `.search`).
pub fn list(t: Tenant, rt: &ResourceTypeDef, p: &ListParams) -> ScimResult<Value> {
    Ok(match list_body(t, rt, p)? {
        ListBody::Datum(d) => d.to_value()?,
        ListBody::Json(v) => v,
    })
}

/// Whether the SQL rendering of a row already is its default projection:
/// no `attributes`, nothing excluded but a group's members, and no member
/// list (whose `display` is returned only on request, so Rust removes it).
fn renders_default_projection(
    rt: &ResourceTypeDef,
    attrs: Option<&str>,
    excl: Option<&str>,
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
    unset(attrs)
        && match rt.kind {
            ResourceKind::User => unset(excl),
            ResourceKind::Group => !with_members && members_only(excl),
        }
}

#[allow(clippy::too_many_arguments)]
#[pg_extern]
fn scim_list(
    resource_type: default!(&str, "'User'"),
    filter: default!(Option<&str>, "NULL"),
    start_index: default!(i32, 1),
    count: default!(Option<i32>, "NULL"),
    sort_by: default!(Option<&str>, "NULL"),
    sort_order: default!(Option<&str>, "NULL"),
    attributes: default!(Option<&str>, "NULL"),
    excluded_attributes: default!(Option<&str>, "NULL"),
    cursor: default!(Option<&str>, "NULL"),
) -> JsonbDatum {
    let own = |s: Option<&str>| s.map(str::to_string);
    let params = ListParams {
        filter: own(filter),
        start_index: Some(start_index.into()),
        count: count.map(i64::from),
        sort_by: own(sort_by),
        sort_order: own(sort_order),
        attributes: own(attributes),
        excluded_attributes: own(excluded_attributes),
        cursor: own(cursor),
    };
    store::resource_type(resource_type)
        .and_then(|rt| list_datum(tenant::current()?, rt, &params))
        .or_raise()
}

/// Every resource of the current tenant matching `filter`.
#[pg_extern]
fn scim_filter(
    filter: &str,
    resource_type: default!(&str, "'User'"),
) -> SetOfIterator<'static, JsonB> {
    let rows = store::resource_type(resource_type)
        .and_then(|rt| store::list::all_matching(tenant::current()?, rt, filter))
        .or_raise();
    SetOfIterator::new(rows.into_iter().map(JsonB))
}

/// The SQL `scim_filter` runs (parameters inlined), for EXPLAIN.
#[pg_extern]
fn scim_filter_sql(filter: &str, resource_type: default!(&str, "'User'")) -> String {
    store::resource_type(resource_type)
        .and_then(|rt| store::list::filter_sql(tenant::current()?, rt, filter))
        .or_raise()
}

/// In-memory filter evaluation with the same semantics as the SQL path.
/// The resource type comes from the resource's `schemas` (Group if it
/// lists the Group schema, else User).
#[pg_extern(immutable, parallel_safe)]
fn scim_matches(resource: JsonArg, filter: &str) -> bool {
    resource
        .value()
        .and_then(|resource| {
            let is_group = resource
                .get("schemas")
                .and_then(|s| s.as_array())
                .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(GROUP_TYPE.schema.id)));
            let rt = if is_group { &GROUP_TYPE } else { &USER_TYPE };
            scim_core::filter::matches(rt, &resource, filter)
        })
        .or_raise()
}

#[pg_extern]
fn scim_patch(
    resource_type: &str,
    id: &str,
    patch: JsonArg,
    if_match: default!(Option<&str>, "NULL"),
) -> JsonB {
    let r = store::resource_type(resource_type).and_then(|rt| {
        let patch = patch.value()?;
        let patched = store::patch::patch(tenant::current()?, rt, id, &patch, if_match)?;
        project(rt, &patched, None, None)
    });
    JsonB(r.or_raise())
}
