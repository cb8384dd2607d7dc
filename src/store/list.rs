//! Listing and searching: a compiled filter (bound parameters only), a
//! stable order (sortBy, ties broken by id), index or cursor paging, and
//! totalResults computed over the whole match set before paging.

use super::rows::table;
use super::{render, uuid_text};
use crate::settings;
use crate::spi;
use crate::spi::jsonb::JsonbDatum;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use pgrx::datum::DatumWithOid;
use scim_core::filter::{self, CompiledFilter};
use scim_core::http::query::ListParams;
use scim_core::http::DEFAULT_COUNT;
use scim_core::schema::{ResourceKind, ResourceTypeDef};
use scim_core::{ScimError, ScimResult, ScimType};
use serde_json::{json, Value};

/// One page of full representations (before projection), rendered by SQL.
pub struct Page {
    /// The page's resources, in page order.
    pub resources: Vec<JsonbDatum>,
    /// Number of resources on the page.
    pub returned: i64,
    pub total: i64,
    pub start_index: i64,
    pub next_cursor: Option<String>,
}

/// Where a page starts: 1-based index, or an RFC 9865 cursor.
enum Position {
    Index(i64),
    /// Keyset: rows after this id (default order).
    AfterId(String),
    /// Offset carried in a cursor (explicit sortBy).
    CursorOffset(i64),
}

/// A decoded cursor: where the page starts, and the walk's totalResults
/// when its first page counted them (cursors issued before carried none).
struct Cursor {
    position: Position,
    total: Option<i64>,
}

/// The JSON expression for a row `r`.
fn row_json(rt: &ResourceTypeDef, with_members: bool) -> String {
    match rt.kind {
        ResourceKind::User => render::user_json(),
        ResourceKind::Group => render::group_json(with_members),
    }
}

/// `r.tenant_id = $1 [AND (<filter>)]` and its parameters (after $1).
pub fn where_clause(rt: &ResourceTypeDef, filter: Option<&str>) -> ScimResult<CompiledFilter> {
    match filter.map(str::trim).filter(|f| !f.is_empty()) {
        None => Ok(CompiledFilter {
            sql: "r.tenant_id = $1".into(),
            params: vec![],
            per_call_plan: false,
            plan_per_tenant: false,
            at_most_one: false,
        }),
        Some(f) => {
            let c = filter::compile(rt, f, 2)?;
            Ok(CompiledFilter {
                sql: format!("r.tenant_id = $1 AND ({})", c.sql),
                ..c
            })
        }
    }
}

/// A filter whose plan depends on the tenant's size
/// (`CompiledFilter::plan_per_tenant`: the GIN email lookup against a walk
/// of the tenant's rows) names its tenant as a literal: the plan cache,
/// keyed by the statement text, then keeps one plan per tenant, made for
/// that tenant's statistics (a large tenant is among the most common
/// values), instead of one generic plan sized for an average tenant. The
/// literal is the server's own uuid in canonical text, never client
/// input; `$1` stays bound for the rest of the statement.
fn pin_tenant(tenant: pgrx::Uuid, w: CompiledFilter) -> CompiledFilter {
    if !w.plan_per_tenant {
        return w;
    }
    match w.sql.strip_prefix("r.tenant_id = $1") {
        Some(rest) => CompiledFilter {
            sql: format!("r.tenant_id = '{}'::uuid{rest}", uuid_text(&tenant)),
            ..w
        },
        None => w,
    }
}

fn args(tenant: pgrx::Uuid, params: &[String]) -> Vec<DatumWithOid<'static>> {
    let mut a: Vec<DatumWithOid> = vec![tenant.into()];
    a.extend(params.iter().map(|p| p.clone().into()));
    a
}

fn decode_cursor(c: &str) -> ScimResult<Option<Cursor>> {
    if c.is_empty() {
        return Ok(None); // `cursor` with no value: first page, cursor paging.
    }
    let bad = || {
        ScimError::bad_request(
            ScimType::InvalidCursor,
            format!("cursor '{c}' is not one this server issued"),
        )
    };
    let raw = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let total = match v.get("total") {
        None => None,
        Some(t) => Some(t.as_i64().filter(|t| *t >= 0).ok_or_else(bad)?),
    };
    if let Some(id) = v.get("after").and_then(Value::as_str) {
        if filter::is_canonical_uuid(id) {
            let position = Position::AfterId(id.to_string());
            return Ok(Some(Cursor { position, total }));
        }
    }
    if let Some(o) = v.get("offset").and_then(Value::as_i64).filter(|o| *o >= 0) {
        let position = Position::CursorOffset(o);
        return Ok(Some(Cursor { position, total }));
    }
    Err(bad())
}

fn encode_cursor(v: Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Run a list/search.
pub fn list(
    tenant: pgrx::Uuid,
    rt: &ResourceTypeDef,
    p: &ListParams,
    with_members: bool,
) -> ScimResult<Page> {
    let w = pin_tenant(tenant, where_clause(rt, p.filter.as_deref())?);
    // RFC 7644 §3.4.2.4: count < 0 means 0; startIndex < 1 means 1.
    let count = p
        .count
        .unwrap_or(DEFAULT_COUNT)
        .clamp(0, settings::limits().max_results);
    let descending = match p
        .sort_order
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") | Some("ascending") => false,
        Some("descending") => true,
        Some(o) => {
            return Err(ScimError::invalid_value(format!(
                "sortOrder must be 'ascending' or 'descending', not '{o}'"
            )))
        }
    };
    let sort_key = match p
        .sort_by
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => Some(filter::compile_sort_key(rt, s)?),
        None => None,
    };
    // totalResults of a cursor walk is counted once, on its first page,
    // and carried in every nextCursor: RFC 9865 §2 asks for an accurate
    // totalResults (a provider unable to estimate it MAY omit it), and
    // recounting the whole match set on every page made a walk quadratic.
    let (position, known_total) = match p.cursor.as_deref() {
        Some(c) => match decode_cursor(c.trim())? {
            Some(Cursor { position, total }) => (position, total),
            None => (Position::Index(1), None),
        },
        None => (Position::Index(p.start_index.unwrap_or(1).max(1)), None),
    };
    let cursor_mode = p.cursor.is_some();

    let dir = if descending { "DESC" } else { "ASC" };
    let order = match &sort_key {
        Some(k) => format!("{k} {dir} NULLS LAST, r.id {dir}"),
        None => format!("r.id {dir}"),
    };
    let mut params = w.params.clone();
    // Keyset cursor: `r.id > $n` (or `<` descending), applied after the
    // match set is counted.
    let mut after = None;
    let offset = match &position {
        Position::Index(i) => i.saturating_sub(1),
        Position::CursorOffset(o) => *o,
        Position::AfterId(id) => {
            if sort_key.is_some() {
                return Err(ScimError::bad_request(
                    ScimType::InvalidCursor,
                    "this cursor belongs to a listing without sortBy",
                ));
            }
            params.push(id.clone());
            let cmp = if descending { "<" } else { ">" };
            after = Some(format!("{cmp} ${}::uuid", params.len() + 1));
            0
        }
    };

    let from = table(rt);
    let json = row_json(rt, with_members);
    let generic = !w.per_call_plan;
    // A filtered list finds its matches once, in the page statement: their
    // ids (and sort keys), the count, the page, then only the page's rows
    // are read again and rendered. An unfiltered list walks the primary
    // key for the page and counts separately when the page cannot tell the
    // total.
    // A later page of a cursor walk knows the total: it reads only its
    // page (a keyset or offset walk), never the whole match set again.
    // A filter that matches at most one row (`userName eq`, `id eq`: the
    // IdPs' lookup before every create) needs neither: its page is read
    // by the unique index, and a first page holds the total.
    let count_in_page = known_total.is_none()
        && !w.at_most_one
        && p.filter.as_deref().is_some_and(|f| !f.trim().is_empty());
    // The aggregates read the page sub-select's rows in its ORDER BY when
    // nothing sits between them (no sort of the rendered documents); the
    // match-set shape joins the page back to its rows, so it orders there.
    let agg_order = if count_in_page {
        format!(" ORDER BY {order}")
    } else {
        String::new()
    };
    let last_id = if cursor_mode && sort_key.is_none() {
        format!("(array_agg(r.id{agg_order}))[count(*)]")
    } else {
        "NULL::uuid".to_string()
    };
    // LIMIT and OFFSET are parameters like every other value (one kept plan
    // per statement shape, not one per page). The page is rendered after
    // LIMIT (in the outer aggregate) and collected in page order as a
    // jsonb[]: the documents stay as SQL encoded them (no jsonb_agg taking
    // each apart), and the response is assembled around them once
    // (spi::jsonb_compose).
    params.push(count.to_string());
    let limit = format!("${}::int8", params.len() + 1);
    params.push(offset.to_string());
    let offset_p = format!("${}::int8", params.len() + 1);
    let select = format!(
        "SELECT coalesce(array_agg({json}{agg_order}), '{{}}'::jsonb[]), \
         count(*), {last_id}"
    );
    let page_sql = if count_in_page {
        // The match set is a MATERIALIZED CTE so that it is planned for
        // all its rows: under LIMIT, a kept generic plan would otherwise
        // walk the primary key in page order and filter (the planner costs
        // a window count as if it streamed).
        let (key_col, order_m) = match &sort_key {
            Some(k) => (
                format!(", {k} AS k"),
                format!("m.k {dir} NULLS LAST, m.id {dir}"),
            ),
            None => (String::new(), format!("m.id {dir}")),
        };
        let cursor = after
            .as_ref()
            .map(|cond| format!(" WHERE m.id {cond}"))
            .unwrap_or_default();
        format!(
            "WITH m AS MATERIALIZED (SELECT r.id{key_col} FROM {from} r WHERE {sql}), \
             p AS (SELECT m.id FROM m{cursor} ORDER BY {order_m} LIMIT {limit} OFFSET {offset_p}) \
             {select}, (SELECT count(*) FROM m) FROM p JOIN {from} r ON r.tenant_id = $1 AND r.id = p.id",
            sql = w.sql
        )
    } else {
        let sql_where = match &after {
            None => w.sql.clone(),
            Some(cond) => format!("{} AND r.id {cond}", w.sql),
        };
        if w.at_most_one {
            // At most one row: no order to keep and nothing to aggregate
            // (no sort or aggregate to set up per call); no row is an
            // empty page.
            format!(
                "SELECT ARRAY[{json}], 1::int8, NULL::uuid, NULL::int8 FROM {from} r \
                 WHERE {sql_where} LIMIT {limit} OFFSET {offset_p}"
            )
        } else {
            format!(
                "{select}, NULL::int8 FROM (SELECT r.* FROM {from} r \
                 WHERE {sql_where} ORDER BY {order} LIMIT {limit} OFFSET {offset_p}) r"
            )
        }
    };

    let mut resources = None;
    let mut returned = 0i64;
    let mut last = None;
    let mut counted = None;
    if count > 0 {
        spi::for_each_row_planned(&page_sql, &args(tenant, &params), generic, |row| {
            resources = row.jsonb_array(1);
            returned = row.get::<i64>(2).unwrap_or(0);
            last = row.get::<pgrx::Uuid>(3);
            counted = row.get::<i64>(4);
            Ok(())
        })?;
    }
    let resources = resources.unwrap_or_default();

    // Otherwise (unfiltered lists, or a page past the last match) a first
    // page that is not full holds every row; anything else is counted.
    let first_page = matches!(position, Position::Index(1))
        || (cursor_mode && offset == 0 && !matches!(position, Position::AfterId(_)));
    let total = match counted.or(known_total) {
        Some(n) => n,
        None if first_page && count > 0 && (returned < count || w.at_most_one) => returned,
        None => {
            let count_sql = format!("SELECT count(*) FROM {from} r WHERE {}", w.sql);
            let mut n = 0;
            spi::for_each_row_planned(&count_sql, &args(tenant, &w.params), generic, |row| {
                n = row.get::<i64>(1).unwrap_or(0);
                Ok(())
            })?;
            n
        }
    };

    // A full page has a next one, unless the filter matches one row.
    let full_page = count > 0 && returned == count && !w.at_most_one;
    let next_cursor = if cursor_mode && full_page {
        Some(match (&sort_key, last) {
            (None, Some(id)) => encode_cursor(json!({"after": uuid_text(&id), "total": total})),
            _ => encode_cursor(json!({"offset": offset.saturating_add(count), "total": total})),
        })
    } else {
        None
    };
    let start_index = match position {
        Position::Index(i) => i,
        _ => 1,
    };
    Ok(Page {
        resources,
        returned,
        total,
        start_index,
        next_cursor,
    })
}

/// A filter that must be present (`scim_filter`, `scim_filter_sql`): an
/// empty one is an error, not "everything".
fn required_filter(rt: &ResourceTypeDef, f: &str) -> ScimResult<CompiledFilter> {
    if f.trim().is_empty() {
        return Err(ScimError::invalid_filter("the filter is empty"));
    }
    where_clause(rt, Some(f))
}

/// Every match, ordered by id (`scim_filter`).
pub fn all_matching(tenant: pgrx::Uuid, rt: &ResourceTypeDef, f: &str) -> ScimResult<Vec<Value>> {
    let w = pin_tenant(tenant, required_filter(rt, f)?);
    let sql = format!(
        "SELECT {} FROM {} r WHERE {} ORDER BY r.id",
        row_json(rt, true),
        table(rt),
        w.sql
    );
    let mut out = vec![];
    spi::for_each_row_planned(&sql, &args(tenant, &w.params), !w.per_call_plan, |row| {
        pgrx::check_for_interrupts!();
        if let Some(j) = row.json(1)? {
            out.push(j);
        }
        Ok(())
    })?;
    Ok(out)
}

/// The statement `scim_filter` runs, with parameters inlined as quoted
/// literals so it can be pasted into EXPLAIN.
pub fn filter_sql(tenant: pgrx::Uuid, rt: &ResourceTypeDef, f: &str) -> ScimResult<String> {
    let w = required_filter(rt, f)?;
    let sql = format!(
        "SELECT {} FROM {} r WHERE {} ORDER BY r.id",
        row_json(rt, true),
        table(rt),
        w.sql
    );
    let mut values = vec![uuid_text(&tenant)];
    values.extend(w.params.iter().cloned());
    Ok(inline_params(&sql, &values))
}

/// Replace `$n` placeholders in one pass over our own SQL text (so a value
/// that itself contains `$1` is never substituted again).
fn inline_params(sql: &str, values: &[String]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let value = after[..digits]
            .parse::<usize>()
            .ok()
            .and_then(|n| values.get(n.wrapping_sub(1)));
        match value {
            Some(v) => out.push_str(&quote_literal(v)),
            None => out.push_str(&rest[pos..pos + 1 + digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// An escape-string literal (`E'…'`): backslashes and quotes doubled.
/// Its meaning does not depend on `standard_conforming_strings`, unlike a
/// plain '…' literal, where a backslash escapes the closing quote when
/// that setting is off.
fn quote_literal(v: &str) -> String {
    format!("E'{}'", v.replace('\\', "\\\\").replace('\'', "''"))
}
