//! The service layer: every SCIM operation with the tenant explicit. The
//! SQL API (`sql_api`, tenant from the GUC), `scim_http` (tenant from the
//! token) and Bulk all call these, so each operation is written once.
//! Storage is `store`; pure decisions come from `scim_core`.

use crate::settings;
use crate::spi::jsonb::JsonbDatum;
use crate::spi::jsonb_compose;
use crate::store::{self, extensions, groups, users};
use scim_core::http::discovery::{self, list_head};
use scim_core::http::listing::{
    known_to, renders_default_projection, root_search_slices, wants_members,
};
use scim_core::http::query::ListParams;
use scim_core::http::DEFAULT_COUNT;
use scim_core::resource::project;
use scim_core::schema::{ResourceKind, ResourceTypeDef, GROUP_TYPE, USER_TYPE};
use scim_core::{ScimError, ScimResult, ScimType};
use serde_json::Value;

pub type Tenant = pgrx::Uuid;

/// A written resource as its response shows it: SQL's rendering when
/// that already is the projection asked for (users), else projected in
/// Rust.
pub enum Shown {
    Rendered(store::Rendered),
    Json(Value),
}

impl Shown {
    /// For a rendering that is the projection asked for; else project it.
    fn of(
        rt: &ResourceTypeDef,
        rendered: store::Rendered,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> ScimResult<Shown> {
        if renders_default_projection(rt, attributes, excluded, false) {
            return Ok(Shown::Rendered(rendered));
        }
        project(rt, &rendered.to_value()?, attributes, excluded).map(Shown::Json)
    }

    /// The entity tag of the version written.
    pub fn etag(&self) -> Option<String> {
        match self {
            Shown::Rendered(r) => Some(scim_core::http::etag::format(r.version)),
            Shown::Json(v) => scim_core::http::response::version_of(v),
        }
    }

    /// As a jsonb datum (the SQL API's return value).
    pub fn into_datum(self) -> ScimResult<JsonbDatum> {
        match self {
            Shown::Rendered(r) => Ok(r.body),
            Shown::Json(v) => JsonbDatum::from_value(v),
        }
    }
}

/// Every response carries the default projection (`returned` rules: never
/// `password`, `members.display` only on request).
pub fn create(t: Tenant, rt: &ResourceTypeDef, resource: &Value) -> ScimResult<Shown> {
    let rt = extensions::tenant_type(t, rt)?;
    match rt.kind {
        ResourceKind::User => user_written(t, rt, users::create(t, rt, resource)?, None, None),
        ResourceKind::Group => group_written(t, rt, groups::create(t, rt, resource)?),
    }
}

/// A user just written: its unique extension attributes checked (the
/// rendering is only read into serde when the tenant has some), then as
/// the projection shows it.
fn user_written(
    t: Tenant,
    rt: &ResourceTypeDef,
    written: store::Rendered,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> ScimResult<Shown> {
    if extensions::has_unique_attributes(rt) {
        extensions::check_unique(t, rt, &written.to_value()?)?;
    }
    Shown::of(rt, written, attributes, excluded)
}

/// A group just written (create, replace): unique attributes checked,
/// then its default projection.
fn group_written(t: Tenant, rt: &ResourceTypeDef, written: Value) -> ScimResult<Shown> {
    extensions::check_unique(t, rt, &written)?;
    project(rt, &written, None, None).map(Shown::Json)
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

/// A resource as the request's projection shows it. `rt` is the
/// tenant's type (`extensions::tenant_type`), as for [`get_rendered`].
pub fn get(
    t: Tenant,
    rt: &ResourceTypeDef,
    id: &str,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> ScimResult<Value> {
    let full = get_full(t, rt, id, attributes, excluded)?;
    project(rt, &full, attributes, excluded)
}

/// A resource as SQL renders it, when that already is the requested
/// projection (a user read with no `attributes`/`excludedAttributes` and
/// no extension attribute to hide): the jsonb datum and its version, with
/// no trip through serde. None: the caller projects ([`get`]). `rt` is
/// the tenant's type, resolved once by the caller for both.
pub fn get_rendered(
    t: Tenant,
    rt: &ResourceTypeDef,
    id: &str,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> ScimResult<Option<store::Rendered>> {
    if rt.kind != ResourceKind::User || !renders_default_projection(rt, attributes, excluded, false)
    {
        return Ok(None);
    }
    users::get_rendered(t, id).map(Some)
}

pub fn replace(
    t: Tenant,
    rt: &ResourceTypeDef,
    id: &str,
    resource: &Value,
    if_match: Option<&str>,
) -> ScimResult<Shown> {
    let rt = extensions::tenant_type(t, rt)?;
    match rt.kind {
        ResourceKind::User => {
            let replaced = users::replace(t, rt, id, resource, if_match)?;
            user_written(t, rt, replaced, None, None)
        }
        ResourceKind::Group => {
            group_written(t, rt, groups::replace(t, rt, id, resource, if_match)?)
        }
    }
}

pub fn delete(t: Tenant, rt: &ResourceTypeDef, id: &str, if_match: Option<&str>) -> ScimResult<()> {
    store::rows::delete(t, rt, id, if_match)
}

/// Apply a PatchOp message; the patched resource as the projection
/// shows it. A group is read back without its member list unless the
/// projection asks for members (reading 100,000 members back would undo
/// the point of a membership delta).
pub fn patch(
    t: Tenant,
    rt: &ResourceTypeDef,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> ScimResult<Shown> {
    let rt = extensions::tenant_type(t, rt)?;
    match store::patch::patch(t, rt, id, body, if_match)? {
        store::patch::Patched::User(patched) => user_written(t, rt, patched, attributes, excluded),
        store::patch::Patched::Group(patched) => {
            extensions::check_unique(t, rt, &patched)?;
            // Only a projection asked for reads the group again (with its
            // members when the projection can show them).
            let full = if attributes.is_some() || excluded.is_some() {
                get_full(t, rt, id, attributes, excluded)?
            } else {
                patched
            };
            project(rt, &full, attributes, excluded).map(Shown::Json)
        }
    }
}

/// A ListResponse, as SQL built it or as Rust projected it.
pub enum ListBody {
    Datum(JsonbDatum),
    Json(Value),
}

impl ListBody {
    /// As a jsonb datum (`scim_list`).
    pub fn into_datum(self) -> ScimResult<JsonbDatum> {
        match self {
            ListBody::Datum(d) => Ok(d),
            ListBody::Json(v) => JsonbDatum::from_value(v),
        }
    }

    /// As serde JSON (`GET /Users`, `.search`).
    pub fn into_value(self) -> ScimResult<Value> {
        match self {
            ListBody::Datum(d) => d.to_value(),
            ListBody::Json(v) => Ok(v),
        }
    }
}

/// A ListResponse for `rt`. With the default projection of a
/// representation SQL renders exactly (users; groups without members) the
/// page SQL built is appended to the header as it is; otherwise each
/// resource is projected in Rust.
pub fn list(t: Tenant, rt: &ResourceTypeDef, p: &ListParams) -> ScimResult<ListBody> {
    let rt = extensions::tenant_type(t, rt)?;
    let (attrs, excl) = (p.attributes.as_deref(), p.excluded_attributes.as_deref());
    let with_members = wants_members(attrs, excl);
    let page = store::list::list(t, rt, p, with_members)?;
    let mut head = list_head(page.total, page.start_index, page.returned);
    if let (Some(c), Some(h)) = (&page.next_cursor, head.as_object_mut()) {
        h.insert("nextCursor".into(), Value::String(c.clone()));
    }
    if renders_default_projection(rt, attrs, excl, with_members) {
        let no_head = serde_json::Map::new();
        let head = head.as_object().unwrap_or(&no_head);
        return jsonb_compose::object_with_documents(head, "Resources", &page.resources)
            .map(ListBody::Datum);
    }
    let projected = page
        .resources
        .iter()
        .map(|r| project(rt, &r.to_value()?, attrs, excl))
        .collect::<ScimResult<Vec<_>>>()?;
    if let Some(h) = head.as_object_mut() {
        h.insert("Resources".into(), Value::Array(projected));
    }
    Ok(ListBody::Json(head))
}

/// `POST /.search` at the root: Users then Groups, paged as one list.
/// A filter that names attributes of only one type searches that type.
pub fn search_all(t: Tenant, p: &ListParams) -> ScimResult<Value> {
    if p.cursor.is_some() || p.sort_by.is_some() {
        return Err(ScimError::invalid_value(
            "cursor and sortBy are not supported on the root /.search; search /Users or /Groups",
        ));
    }
    let start = p.start_index.unwrap_or(1).max(1);
    let count = p
        .count
        .unwrap_or(DEFAULT_COUNT)
        .clamp(0, settings::limits().max_results);
    // Each type with its own attribute lists and its total; a type the
    // filter cannot apply to is skipped (unless none can).
    let mut typed = Vec::new();
    let mut first_error = None;
    for rt in [&USER_TYPE, &GROUP_TYPE] {
        let rt = extensions::tenant_type(t, rt)?;
        let own = ListParams {
            attributes: p.attributes.as_deref().map(|a| {
                let kept = known_to(rt, a);
                if kept.is_empty() {
                    "id".to_string()
                } else {
                    kept
                }
            }),
            excluded_attributes: p.excluded_attributes.as_deref().map(|a| known_to(rt, a)),
            ..p.clone()
        };
        let probe = ListParams {
            count: Some(0),
            start_index: Some(1),
            ..own.clone()
        };
        match list(t, rt, &probe).and_then(ListBody::into_value) {
            Ok(v) => {
                let n = v.get("totalResults").and_then(Value::as_i64).unwrap_or(0);
                typed.push((rt, own, n));
            }
            Err(e) if e.scim_type == Some(ScimType::InvalidFilter) => {
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if typed.is_empty() {
        if let Some(e) = first_error {
            return Err(e);
        }
    }
    let totals: Vec<i64> = typed.iter().map(|(_, _, n)| *n).collect();
    let mut resources = Vec::new();
    for ((rt, own, _), slice) in typed.iter().zip(root_search_slices(start, count, &totals)) {
        let Some((start_index, count)) = slice else {
            continue;
        };
        let part = ListParams {
            start_index: Some(start_index),
            count: Some(count),
            ..own.clone()
        };
        let page = list(t, rt, &part)?.into_value()?;
        if let Some(items) = page.get("Resources").and_then(Value::as_array) {
            resources.extend(items.iter().cloned());
        }
    }
    let total = totals.iter().fold(0i64, |a, n| a.saturating_add(*n));
    Ok(discovery::list_response(resources, total, start))
}
