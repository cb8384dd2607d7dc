//! The SQL API (schema `scim`): thin `#[pg_extern]` wrappers. Each resolves
//! the current tenant (GUC `scim.tenant`, or the `scim_session` binding)
//! and calls the tenant-explicit [`crate::service`], which `scim_http`
//! shares (there the tenant comes from the bearer token).

use crate::error::OrRaise;
use crate::service;
use crate::spi::jsonb::{JsonArg, JsonbDatum};
use crate::store::{self, tenant};
use pgrx::prelude::*;
use pgrx::JsonB;
use scim_core::http::query::ListParams;
use scim_core::schema::{GROUP_TYPE, USER_TYPE};

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
fn scim_create_user(resource: JsonArg) -> JsonbDatum {
    resource
        .value()
        .and_then(|r| service::create(tenant::current()?, &USER_TYPE, &r))
        .and_then(service::Shown::into_datum)
        .or_raise()
}

#[pg_extern]
fn scim_create_group(resource: JsonArg) -> JsonbDatum {
    resource
        .value()
        .and_then(|r| service::create(tenant::current()?, &GROUP_TYPE, &r))
        .and_then(service::Shown::into_datum)
        .or_raise()
}

#[pg_extern]
fn scim_get(
    resource_type: &str,
    id: &str,
    attributes: default!(Option<&str>, "NULL"),
    excluded_attributes: default!(Option<&str>, "NULL"),
) -> JsonbDatum {
    let get = |rt| {
        let t = tenant::current()?;
        let rt = store::extensions::tenant_type(t, rt)?;
        match service::get_rendered(t, rt, id, attributes, excluded_attributes)? {
            Some(rendered) => Ok(rendered.body),
            None => {
                JsonbDatum::from_value(service::get(t, rt, id, attributes, excluded_attributes)?)
            }
        }
    };
    store::resource_type(resource_type).and_then(get).or_raise()
}

#[pg_extern]
fn scim_replace(
    resource_type: &str,
    id: &str,
    resource: JsonArg,
    if_match: default!(Option<&str>, "NULL"),
) -> JsonbDatum {
    store::resource_type(resource_type)
        .and_then(|rt| {
            let resource = resource.value()?;
            service::replace(tenant::current()?, rt, id, &resource, if_match)
        })
        .and_then(service::Shown::into_datum)
        .or_raise()
}

#[pg_extern]
fn scim_delete(resource_type: &str, id: &str, if_match: default!(Option<&str>, "NULL")) {
    store::resource_type(resource_type)
        .and_then(|rt| service::delete(tenant::current()?, rt, id, if_match))
        .or_raise()
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
        .and_then(|rt| service::list(tenant::current()?, rt, &params)?.into_datum())
        .or_raise()
}

/// Every resource of the current tenant matching `filter`.
#[pg_extern]
fn scim_filter(
    filter: &str,
    resource_type: default!(&str, "'User'"),
) -> SetOfIterator<'static, JsonB> {
    let rows = store::resource_type(resource_type)
        .and_then(|rt| {
            let t = tenant::current()?;
            store::list::all_matching(t, store::extensions::tenant_type(t, rt)?, filter)
        })
        .or_raise();
    SetOfIterator::new(rows.into_iter().map(JsonB))
}

/// The SQL `scim_filter` runs (parameters inlined), for EXPLAIN.
#[pg_extern]
fn scim_filter_sql(filter: &str, resource_type: default!(&str, "'User'")) -> String {
    store::resource_type(resource_type)
        .and_then(|rt| {
            let t = tenant::current()?;
            store::list::filter_sql(t, store::extensions::tenant_type(t, rt)?, filter)
        })
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
) -> JsonbDatum {
    store::resource_type(resource_type)
        .and_then(|rt| {
            let patch = patch.value()?;
            service::patch(tenant::current()?, rt, id, &patch, if_match, None, None)
        })
        .and_then(service::Shown::into_datum)
        .or_raise()
}

/// Register (or update) an extension schema of `resource_type` for the
/// current tenant: `definition` in the RFC 7643 §7 representation;
/// `required` is `schemaExtensions[].required`. Returns the Schema
/// resource as `/Schemas` shows it.
#[pg_extern]
fn scim_extension_schema_put(
    resource_type: &str,
    definition: JsonArg,
    required: default!(bool, false),
) -> JsonB {
    let r = definition.value().and_then(|d| {
        let rt = store::resource_type(resource_type)?;
        store::extensions::put(tenant::current()?, rt, &d, required)
    });
    JsonB(r.or_raise())
}

/// Set-based import of users for initial loads: each item validated like
/// `scim_create_user`, all valid items written by one statement, one
/// result row per item in input order (201 and the id, or the item's SCIM
/// error; a failed item writes nothing, the others are written). At most
/// `scim.max_bulk_operations` items.
#[pg_extern]
#[allow(clippy::type_complexity)]
fn scim_import(
    resources: Vec<Option<JsonB>>,
) -> TableIterator<
    'static,
    (
        name!(ordinality, i32),
        name!(status, i32),
        name!(id, Option<pgrx::Uuid>),
        name!(scim_type, Option<String>),
        name!(detail, Option<String>),
    ),
> {
    let items = resources.into_iter().map(|r| r.map(|j| j.0)).collect();
    let results = tenant::current()
        .and_then(|t| store::import::import_users(t, items))
        .or_raise();
    TableIterator::new(
        results
            .into_iter()
            .map(|r| (r.index, r.status, r.id, r.scim_type, r.detail)),
    )
}
