//! Reading effective policies: `effective_policy`, `effective_policy_explain`
//! and the hot path `policy_allows`.
//!
//! Per call: one prepared statement (SPI plan kept for the life of the
//! backend) resolves the tenant, the user (SCIM id, else userName
//! case-insensitively, else a unique externalId), the user's groups
//! (transitively, through nested groups; cycles end because the recursive
//! CTE uses UNION), the policies bound to them with their `updated` stamps,
//! and the tenant's default policy. Parsed documents come from a
//! backend-local cache keyed by (tenant, name, updated); only a miss runs a
//! second statement (and `validate`). `scim.policies` bumps `updated` on
//! every document change (trigger in sql/policy.sql), so a stale entry is
//! never used, including after a rollback: the stamp read in the current
//! snapshot decides.
//!
//! A user with `active = false` gets nothing; `active` unset counts as
//! active (RFC 7643 makes the attribute optional).

use crate::error::{spi_err, OrRaise};
use pgrx::pg_sys::{BuiltinOid, PgOid};
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiTupleTable};
use pgrx::JsonB;
use scim_core::policy::{allows_from, explain, merge, PolicyDoc, Source, WILDCARD};
use scim_core::{ScimError, ScimResult};
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Tenant, user and the user's first-level memberships. `$1` is the ref as a
/// uuid (NULL when it is not one), `$2` the ref as text. COALESCE evaluates
/// its arguments lazily, so a hit by id skips the other two lookups.
const RESOLVE_USER: &str = "
t AS MATERIALIZED (SELECT scim.current_tenant() AS id),
u AS MATERIALIZED (
    SELECT x.id, coalesce(x.active, true) AS active
      FROM scim.users x
     WHERE x.tenant_id = (SELECT id FROM t)
       AND x.id = coalesce(
             (SELECT y.id FROM scim.users y
               WHERE y.tenant_id = (SELECT id FROM t) AND y.id = $1),
             (SELECT y.id FROM scim.users y
               WHERE y.tenant_id = (SELECT id FROM t) AND lower(y.user_name) = lower($2)),
             (SELECT (array_agg(y.id))[1] FROM scim.users y
               WHERE y.tenant_id = (SELECT id FROM t) AND y.external_id = $2
              HAVING count(*) = 1)))";

/// The default policy of the current tenant (a dangling name is no default).
const DEFAULT_POLICY: &str = "
LEFT JOIN LATERAL (
    SELECT dp.name, (extract(epoch FROM dp.updated) * 1000000)::int8 AS stamp
      FROM scim.tenants te
      JOIN scim.policies dp ON dp.tenant_id = te.id AND dp.name = te.default_policy
     WHERE te.id = (SELECT id FROM t)) d ON true";

/// Hot path: policy names and stamps only (no group names); inactive users
/// stop before the group walk.
fn hot_sql() -> String {
    format!(
        "WITH RECURSIVE {RESOLVE_USER},
g(id) AS (
    SELECT m.group_id FROM u
      JOIN scim.members m ON m.tenant_id = (SELECT id FROM t) AND m.member_id = u.id
     WHERE u.active
  UNION
    SELECT m.group_id FROM g
      JOIN scim.members m ON m.tenant_id = (SELECT id FROM t) AND m.member_id = g.id),
p AS (
    SELECT p.name, (extract(epoch FROM p.updated) * 1000000)::int8 AS stamp
      FROM scim.policies p
     WHERE p.tenant_id = (SELECT id FROM t)
       AND p.name IN (SELECT b.policy FROM g
                        JOIN scim.policy_bindings b
                          ON b.tenant_id = (SELECT id FROM t) AND b.group_id = g.id))
SELECT (SELECT id FROM t), u.id, u.active,
       (SELECT array_agg(p.name ORDER BY p.name) FROM p),
       (SELECT array_agg(p.stamp ORDER BY p.name) FROM p),
       NULL::text[],
       d.name, d.stamp
  FROM (SELECT) one
  LEFT JOIN u ON true
  {DEFAULT_POLICY}"
    )
}

/// effective_policy / explain: every group (display names) and every
/// (group, policy) binding.
fn full_sql() -> String {
    format!(
        "WITH RECURSIVE {RESOLVE_USER},
g(id) AS (
    SELECT m.group_id FROM u
      JOIN scim.members m ON m.tenant_id = (SELECT id FROM t) AND m.member_id = u.id
  UNION
    SELECT m.group_id FROM g
      JOIN scim.members m ON m.tenant_id = (SELECT id FROM t) AND m.member_id = g.id),
gn AS (
    SELECT gr.id, gr.display_name FROM g
      JOIN scim.groups gr ON gr.tenant_id = (SELECT id FROM t) AND gr.id = g.id),
bp AS (
    SELECT gn.display_name AS grp, p.name,
           (extract(epoch FROM p.updated) * 1000000)::int8 AS stamp
      FROM gn
      JOIN scim.policy_bindings b ON b.tenant_id = (SELECT id FROM t) AND b.group_id = gn.id
      JOIN scim.policies p ON p.tenant_id = b.tenant_id AND p.name = b.policy)
SELECT (SELECT id FROM t), u.id, u.active,
       (SELECT array_agg(bp.name ORDER BY bp.grp, bp.name) FROM bp),
       (SELECT array_agg(bp.stamp ORDER BY bp.grp, bp.name) FROM bp),
       (SELECT array_agg(bp.grp ORDER BY bp.grp, bp.name) FROM bp),
       d.name, d.stamp,
       (SELECT array_agg(gn.display_name) FROM gn)
  FROM (SELECT) one
  LEFT JOIN u ON true
  {DEFAULT_POLICY}"
    )
}

const DOCS_SQL: &str = "
SELECT p.name, p.document, (extract(epoch FROM p.updated) * 1000000)::int8
  FROM scim.policies p
 WHERE p.tenant_id = $1 AND p.name = ANY($2)";

struct Plans {
    hot: OwnedPreparedStatement,
    full: OwnedPreparedStatement,
    docs: OwnedPreparedStatement,
}

type TenantKey = [u8; 16];

/// Parsed documents per tenant: name → (updated stamp, document).
#[derive(Default)]
struct DocCache {
    tenants: HashMap<TenantKey, HashMap<String, (i64, Rc<PolicyDoc>)>>,
    entries: usize,
}

/// Beyond this many cached documents the cache starts over.
const MAX_CACHED_DOCS: usize = 10_000;

impl DocCache {
    fn get(&self, tenant: &TenantKey, name: &str, stamp: i64) -> Option<Rc<PolicyDoc>> {
        match self.tenants.get(tenant)?.get(name) {
            Some((s, doc)) if *s == stamp => Some(doc.clone()),
            _ => None,
        }
    }

    fn put(&mut self, tenant: TenantKey, name: String, stamp: i64, doc: Rc<PolicyDoc>) {
        if self.entries >= MAX_CACHED_DOCS {
            self.tenants.clear();
            self.entries = 0;
        }
        if self
            .tenants
            .entry(tenant)
            .or_default()
            .insert(name, (stamp, doc))
            .is_none()
        {
            self.entries += 1;
        }
    }
}

thread_local! {
    static PLANS: RefCell<Option<Rc<Plans>>> = const { RefCell::new(None) };
    static DOCS: RefCell<DocCache> = RefCell::new(DocCache::default());
}

fn oid(o: BuiltinOid) -> PgOid {
    PgOid::BuiltIn(o)
}

/// The kept plans, prepared on first use in this backend.
fn plans(client: &SpiClient) -> ScimResult<Rc<Plans>> {
    if let Some(p) = PLANS.with(|p| p.borrow().clone()) {
        return Ok(p);
    }
    let resolve_args = [oid(BuiltinOid::UUIDOID), oid(BuiltinOid::TEXTOID)];
    let hot = client
        .prepare(hot_sql().as_str(), &resolve_args)
        .map_err(spi_err)?
        .keep();
    let full = client
        .prepare(full_sql().as_str(), &resolve_args)
        .map_err(spi_err)?
        .keep();
    let docs = client
        .prepare(
            DOCS_SQL,
            &[oid(BuiltinOid::UUIDOID), oid(BuiltinOid::TEXTARRAYOID)],
        )
        .map_err(spi_err)?
        .keep();
    let p = Rc::new(Plans { hot, full, docs });
    PLANS.with(|cell| *cell.borrow_mut() = Some(p.clone()));
    Ok(p)
}

/// What one resolution statement returns.
struct Resolved {
    tenant: pgrx::Uuid,
    /// `None`: no such user in this tenant.
    user: Option<pgrx::Uuid>,
    active: bool,
    /// Bound policies: (name, stamp, group display name; "" on the hot path).
    bindings: Vec<(String, i64, String)>,
    default: Option<(String, i64)>,
    /// Display names of all the user's groups (full resolution only).
    groups: Vec<String>,
}

fn col<T: FromDatum + IntoDatum>(row: &SpiTupleTable, i: usize) -> ScimResult<Option<T>> {
    row.get::<T>(i).map_err(spi_err)
}

fn resolve(client: &SpiClient, plans: &Plans, full: bool, user_ref: &str) -> ScimResult<Resolved> {
    let as_uuid = uuid::Uuid::parse_str(user_ref)
        .ok()
        .map(|u| pgrx::Uuid::from_bytes(*u.as_bytes()));
    let plan = if full { &plans.full } else { &plans.hot };
    let row = client
        .select(plan, Some(1), &[as_uuid.into(), user_ref.into()])
        .map_err(spi_err)?
        .first();
    let tenant: pgrx::Uuid = col(&row, 1)?.ok_or_else(|| internal("no current tenant"))?;
    let user: Option<pgrx::Uuid> = col(&row, 2)?;
    let active = col::<bool>(&row, 3)?.unwrap_or(false);
    let names: Vec<String> = col(&row, 4)?.unwrap_or_default();
    let stamps: Vec<i64> = col(&row, 5)?.unwrap_or_default();
    let mut groups_of: Vec<String> = col(&row, 6)?.unwrap_or_default();
    groups_of.resize(names.len(), String::new());
    let default = match (col::<String>(&row, 7)?, col::<i64>(&row, 8)?) {
        (Some(n), Some(s)) => Some((n, s)),
        _ => None,
    };
    let groups = if full {
        let mut g: Vec<String> = col(&row, 9)?.unwrap_or_default();
        g.sort_unstable();
        g
    } else {
        Vec::new()
    };
    if names.len() != stamps.len() {
        return Err(internal("policy resolution returned mismatched arrays"));
    }
    let bindings = names
        .into_iter()
        .zip(stamps)
        .zip(groups_of)
        .map(|((n, s), g)| (n, s, g))
        .collect();
    Ok(Resolved {
        tenant,
        user,
        active,
        bindings,
        default,
        groups,
    })
}

fn internal(msg: &str) -> ScimError {
    ScimError::new(500, None, msg.to_owned())
}

/// Parsed documents for `wanted` (name, stamp), in order; cache misses are
/// loaded with one statement. A policy deleted between the two statements
/// yields an empty document, which allows nothing (fail closed).
fn documents(
    client: &SpiClient,
    plans: &Plans,
    tenant: pgrx::Uuid,
    wanted: &[(&str, i64)],
) -> ScimResult<Vec<Rc<PolicyDoc>>> {
    let key: TenantKey = *tenant.as_bytes();
    let mut out: Vec<Option<Rc<PolicyDoc>>> = DOCS.with(|c| {
        let c = c.borrow();
        wanted
            .iter()
            .map(|(name, stamp)| c.get(&key, name, *stamp))
            .collect()
    });
    let missing: Vec<String> = wanted
        .iter()
        .zip(&out)
        .filter(|(_, d)| d.is_none())
        .map(|((n, _), _)| (*n).to_owned())
        .collect();
    if !missing.is_empty() {
        let mut loaded: HashMap<String, Rc<PolicyDoc>> = HashMap::new();
        let rows = client
            .select(&plans.docs, None, &[tenant.into(), missing.into()])
            .map_err(spi_err)?;
        for row in rows {
            let name: String = row
                .get(1)
                .map_err(spi_err)?
                .ok_or_else(|| internal("policy without a name"))?;
            let doc: JsonB = row
                .get(2)
                .map_err(spi_err)?
                .ok_or_else(|| internal("policy without a document"))?;
            let stamp: i64 = row
                .get(3)
                .map_err(spi_err)?
                .ok_or_else(|| internal("policy without a stamp"))?;
            let parsed = scim_core::policy::validate(&doc.0).map_err(|e| {
                internal(&format!(
                    "stored policy \"{name}\" is invalid: {}",
                    e.detail
                ))
            })?;
            let parsed = Rc::new(parsed);
            DOCS.with(|c| c.borrow_mut().put(key, name.clone(), stamp, parsed.clone()));
            loaded.insert(name, parsed);
        }
        for ((name, _), slot) in wanted.iter().zip(out.iter_mut()) {
            if slot.is_none() {
                *slot = loaded.get(*name).cloned();
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|d| d.unwrap_or_else(|| Rc::new(PolicyDoc::default())))
        .collect())
}

/// Everything needed to merge: the resolution plus parsed documents for
/// its bindings and its default (both empty for unknown/inactive users).
struct Loaded {
    r: Resolved,
    docs: Vec<Rc<PolicyDoc>>,
    default: Option<(String, Rc<PolicyDoc>)>,
}

impl Loaded {
    fn applies(&self) -> bool {
        self.r.user.is_some() && self.r.active
    }

    fn sources(&self) -> Vec<Source<'_>> {
        if !self.applies() {
            return Vec::new();
        }
        self.r
            .bindings
            .iter()
            .zip(&self.docs)
            .map(|((policy, _, group), doc)| Source { group, policy, doc })
            .collect()
    }

    fn default(&self) -> Option<(&str, &PolicyDoc)> {
        if !self.applies() {
            return None;
        }
        self.default.as_ref().map(|(n, d)| (n.as_str(), &**d))
    }
}

fn load(full: bool, user_ref: &str) -> ScimResult<Loaded> {
    Spi::connect(|client| {
        let plans = plans(client)?;
        let r = resolve(client, &plans, full, user_ref)?;
        let applies = r.user.is_some() && r.active;
        let mut wanted: Vec<(&str, i64)> = Vec::new();
        if applies {
            wanted.extend(r.bindings.iter().map(|(n, s, _)| (n.as_str(), *s)));
            // The default only matters when no binding is reached.
            if wanted.is_empty() {
                if let Some((n, s)) = &r.default {
                    wanted.push((n.as_str(), *s));
                }
            }
        }
        let mut docs = if wanted.is_empty() {
            Vec::new()
        } else {
            documents(client, &plans, r.tenant, &wanted)?
        };
        let default = if applies && r.bindings.is_empty() {
            r.default
                .as_ref()
                .and_then(|(n, _)| docs.pop().map(|d| (n.clone(), d)))
        } else {
            None
        };
        if !applies {
            docs.clear();
        }
        Ok(Loaded { r, docs, default })
    })
}

fn user_json(l: &Loaded) -> Value {
    l.r.user
        .as_ref()
        .map_or(Value::Null, |u| Value::String(crate::store::uuid_text(u)))
}

/// `{"user", "active", "groups", "policies", "source", "allow", "deny",
/// "require", "limits"}`.
pub fn effective(user_ref: &str) -> ScimResult<Value> {
    let l = load(true, user_ref)?;
    let sources = l.sources();
    let eff = merge(&sources, l.default());
    let mut out = match eff.to_json() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    out.insert("user".into(), user_json(&l));
    out.insert("active".into(), json!(l.r.user.is_some() && l.r.active));
    out.insert("groups".into(), json!(l.r.groups));
    out.insert("policies".into(), json!(eff.policies()));
    out.insert("source".into(), json!(eff.origin().as_str()));
    Ok(Value::Object(out))
}

/// `scim_core::policy::explain` plus `user`, `active`, `groups` and, when
/// nothing applies because of the user, `reason`.
pub fn explain_user(user_ref: &str) -> ScimResult<Value> {
    let l = load(true, user_ref)?;
    let sources = l.sources();
    let mut out = match explain(&sources, l.default()) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    out.insert("user".into(), user_json(&l));
    out.insert("active".into(), json!(l.r.user.is_some() && l.r.active));
    out.insert("groups".into(), json!(l.r.groups));
    if l.r.user.is_none() {
        out.insert("reason".into(), json!("unknown user"));
    } else if !l.r.active {
        out.insert("reason".into(), json!("user is not active"));
    }
    Ok(Value::Object(out))
}

/// The hot path: may `user_ref` use `item` of `domain`?
pub fn allows(user_ref: &str, domain: &str, item: &str) -> ScimResult<bool> {
    if item.is_empty() || item == WILDCARD {
        return Ok(false);
    }
    let l = load(false, user_ref)?;
    if !l.applies() {
        return Ok(false);
    }
    Ok(allows_from(&l.sources(), l.default(), domain, item))
}

#[pg_extern(stable, parallel_safe)]
fn effective_policy(user_ref: Option<&str>) -> JsonB {
    JsonB(effective(user_ref.unwrap_or("")).or_raise())
}

#[pg_extern(stable, parallel_safe)]
fn effective_policy_explain(user_ref: Option<&str>) -> JsonB {
    JsonB(explain_user(user_ref.unwrap_or("")).or_raise())
}

/// NULL arguments never allow anything (false, not NULL: fail closed).
#[pg_extern(stable, parallel_safe)]
fn policy_allows(user_ref: Option<&str>, domain: Option<&str>, item: Option<&str>) -> bool {
    match (user_ref, domain, item) {
        (Some(u), Some(d), Some(i)) => allows(u, d, i).or_raise(),
        _ => false,
    }
}
