//! Reading effective policies: the hot path `policy_allows`, and
//! `effective_policy` / `effective_policy_explain`.
//!
//! SPI plans are prepared once per backend and kept (always generic, see
//! [`crate::store::plan`]). Both paths start with one statement that
//! resolves the user the ref names (SCIM id, else userName
//! case-insensitively, else a unique externalId) with `active`, their direct
//! groups and the version of the tenant's policy graph.
//!
//! * `policy_allows` then takes the tenant's graph from memory
//!   ([`super::graph`], read again only when its version changed) and walks
//!   it from the direct groups.
//! * `effective_policy` / `_explain` (which also need group names) walk the
//!   groups in SQL (recursive CTE with UNION: nested groups, cycles
//!   harmless) for the bound policies with their `updated` stamps and, only
//!   if no binding is reached, the default policy. Parsed documents come
//!   from a cache keyed by (tenant, name, updated): `scim.policies` bumps
//!   `updated` on every document change (trigger in sql/policy.sql), so a
//!   stale entry is never used, including after a rollback. This path is
//!   the reference the hot path is tested against (`pg_tests.rs`).
//!
//! Why small statements rather than one CTE doing everything: the executor
//! start-up of a statement with many CTEs and init-plans costs more than the
//! extra round trips through SPI (measured: user resolution as CTE ~12 µs,
//! as a plain indexed SELECT ~2 µs).
//!
//! A user with `active = false` gets nothing; `active` unset counts as
//! active (RFC 7643 makes the attribute optional).

use super::graph::{self, GraphVersion, GroupId};
use crate::error::OrRaise;
use crate::store::plan::{get, oid, Plan};
use pgrx::pg_sys::BuiltinOid;
use pgrx::prelude::*;
use pgrx::JsonB;
use scim_core::policy::{allows_from, explain, merge, PolicyDoc, Source, WILDCARD};
use scim_core::{ScimError, ScimResult};
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// The tenant and the user a ref names, with what the hot path needs:
/// `(tenant, user id, active, tenant row xmin, policy_epoch, the user's
/// direct groups)`; the user columns are NULL (and the groups empty) when
/// there is no such user. One statement per kind of ref, tried in priority
/// order: SCIM id (only when the ref parses as a uuid), userName
/// (case-insensitive, unique), externalId (only if unique in the tenant: an
/// ambiguous externalId names nobody).
const USER_BY_ID: &str = "
SELECT t.id, u.id, coalesce(u.active, true), t.xmin::text::int8, t.policy_epoch,
       ARRAY(SELECT m.group_id FROM scim.members m WHERE m.tenant_id = t.id AND m.member_id = u.id)
  FROM scim.tenants t
  LEFT JOIN scim.users u ON u.tenant_id = t.id AND u.id = $1
 WHERE t.id = $2";
const USER_BY_NAME: &str = "
SELECT t.id, u.id, coalesce(u.active, true), t.xmin::text::int8, t.policy_epoch,
       ARRAY(SELECT m.group_id FROM scim.members m WHERE m.tenant_id = t.id AND m.member_id = u.id)
  FROM scim.tenants t
  LEFT JOIN scim.users u ON u.tenant_id = t.id AND lower(u.user_name) = lower($1)
 WHERE t.id = $2";
const USER_BY_EXTERNAL_ID: &str = "
SELECT t.id, x.id, x.active, t.xmin::text::int8, t.policy_epoch,
       ARRAY(SELECT m.group_id FROM scim.members m WHERE m.tenant_id = t.id AND m.member_id = x.id)
  FROM scim.tenants t
  LEFT JOIN LATERAL (
       SELECT (array_agg(u.id))[1] AS id, bool_and(coalesce(u.active, true)) AS active
         FROM scim.users u
        WHERE u.tenant_id = t.id AND u.external_id = $1
       HAVING count(*) = 1) x ON true
 WHERE t.id = $2";

/// effective_policy / explain: display names of all the user's groups and
/// every (group, policy) binding they carry.
const USER_BINDINGS: &str = "
WITH RECURSIVE g(id) AS (
    SELECT m.group_id FROM scim.members m WHERE m.tenant_id = $1 AND m.member_id = $2
  UNION
    SELECT m.group_id FROM g, scim.members m WHERE m.tenant_id = $1 AND m.member_id = g.id),
gn AS (
    SELECT gr.id, gr.display_name FROM g JOIN scim.groups gr ON gr.tenant_id = $1 AND gr.id = g.id),
bp AS (
    SELECT gn.display_name AS grp, p.name, (extract(epoch FROM p.updated) * 1000000)::int8 AS stamp
      FROM gn
      JOIN scim.policy_bindings b ON b.tenant_id = $1 AND b.group_id = gn.id
      JOIN scim.policies p ON p.tenant_id = $1 AND p.name = b.policy)
SELECT (SELECT array_agg(bp.name ORDER BY bp.grp, bp.name) FROM bp),
       (SELECT array_agg(bp.stamp ORDER BY bp.grp, bp.name) FROM bp),
       (SELECT array_agg(bp.grp ORDER BY bp.grp, bp.name) FROM bp),
       (SELECT array_agg(gn.display_name) FROM gn)";

/// The tenant's default policy (a dangling name is no default).
const DEFAULT_POLICY: &str = "
SELECT dp.name, (extract(epoch FROM dp.updated) * 1000000)::int8
  FROM scim.tenants te
  JOIN scim.policies dp ON dp.tenant_id = te.id AND dp.name = te.default_policy
 WHERE te.id = $1";

const DOCS_SQL: &str = "
SELECT p.name, p.document, (extract(epoch FROM p.updated) * 1000000)::int8
  FROM scim.policies p
 WHERE p.tenant_id = $1 AND p.name = ANY($2)";

struct Plans {
    user_by_id: Plan,
    user_by_name: Plan,
    user_by_external_id: Plan,
    user_bindings: Plan,
    default_policy: Plan,
    docs: Plan,
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

/// The kept plans, prepared on first use in this backend.
fn plans() -> Rc<Plans> {
    if let Some(p) = PLANS.with(|p| p.borrow().clone()) {
        return p;
    }
    let (uuid, text, text_array) = (
        oid(BuiltinOid::UUIDOID),
        oid(BuiltinOid::TEXTOID),
        oid(BuiltinOid::TEXTARRAYOID),
    );
    let p = Rc::new(Plans {
        user_by_id: Plan::prepare(USER_BY_ID, &[uuid, uuid]),
        user_by_name: Plan::prepare(USER_BY_NAME, &[text, uuid]),
        user_by_external_id: Plan::prepare(USER_BY_EXTERNAL_ID, &[text, uuid]),
        user_bindings: Plan::prepare(USER_BINDINGS, &[uuid, uuid]),
        default_policy: Plan::prepare(DEFAULT_POLICY, &[uuid]),
        docs: Plan::prepare(DOCS_SQL, &[uuid, text_array]),
    });
    PLANS.with(|cell| *cell.borrow_mut() = Some(p.clone()));
    p
}

/// What resolution returns.
struct Resolved {
    tenant: pgrx::Uuid,
    /// `None`: no such user in this tenant.
    user: Option<pgrx::Uuid>,
    active: bool,
    /// Bound policies: (name, stamp, group display name; "" on the hot path).
    bindings: Vec<(String, i64, String)>,
    default: Option<(String, i64)>,
    /// Display names of all the user's groups (full resolution only), sorted.
    groups: Vec<String>,
}

fn internal(msg: &str) -> ScimError {
    ScimError::new(500, None, msg.to_owned())
}

fn to_datum<T: IntoDatum>(v: T) -> Option<pgrx::pg_sys::Datum> {
    v.into_datum()
}

/// One resolution row (see [`USER_BY_ID`]).
struct UserRow {
    tenant: pgrx::Uuid,
    /// `None`: no such user in this tenant.
    user: Option<pgrx::Uuid>,
    active: bool,
    graph_version: GraphVersion,
    direct_groups: Vec<GroupId>,
}

/// The user a ref names, trying id, userName, externalId.
fn resolve_user(plans: &Plans, user_ref: &str) -> ScimResult<UserRow> {
    let row = |n: usize| -> ScimResult<UserRow> {
        if n != 1 {
            return Err(internal("user resolution returned no row"));
        }
        let tenant = get::<pgrx::Uuid>(0, 1).ok_or_else(|| internal("no current tenant"))?;
        let version = (get::<i64>(0, 4), get::<i64>(0, 5));
        let (Some(xmin), Some(epoch)) = version else {
            return Err(internal("tenant row without a policy epoch"));
        };
        Ok(UserRow {
            tenant,
            user: get(0, 2),
            active: get::<bool>(0, 3).unwrap_or(false),
            graph_version: (xmin, epoch),
            direct_groups: get::<Vec<pgrx::Uuid>>(0, 6)
                .unwrap_or_default()
                .iter()
                .map(|g| *g.as_bytes())
                .collect(),
        })
    };
    // The tenant comes from the GUC cache (no SPI), `$2` in each statement.
    let t = crate::store::tenant::current()?;
    if let Ok(u) = uuid::Uuid::parse_str(user_ref) {
        let id = pgrx::Uuid::from_bytes(*u.as_bytes());
        let found = row(plans.user_by_id.run(&[to_datum(id), to_datum(t)]))?;
        if found.user.is_some() {
            return Ok(found);
        }
    }
    let found = row(plans.user_by_name.run(&[to_datum(user_ref), to_datum(t)]))?;
    if found.user.is_some() {
        return Ok(found);
    }
    row(plans
        .user_by_external_id
        .run(&[to_datum(user_ref), to_datum(t)]))
}

/// Full resolution (effective_policy, explain): bindings with their group
/// names and document stamps, all group names, the default if no binding.
fn resolve(plans: &Plans, user_ref: &str) -> ScimResult<Resolved> {
    let u = resolve_user(plans, user_ref)?;
    let mut r = Resolved {
        tenant: u.tenant,
        user: u.user,
        active: u.active,
        bindings: Vec::new(),
        default: None,
        groups: Vec::new(),
    };
    let Some(user) = u.user else { return Ok(r) };
    plans
        .user_bindings
        .run(&[to_datum(r.tenant), to_datum(user)]);
    let names: Vec<String> = get(0, 1).unwrap_or_default();
    let stamps: Vec<i64> = get(0, 2).unwrap_or_default();
    let groups_of: Vec<String> = get(0, 3).unwrap_or_default();
    let mut groups: Vec<String> = get(0, 4).unwrap_or_default();
    groups.sort_unstable();
    if names.len() != stamps.len() || names.len() != groups_of.len() {
        return Err(internal("policy resolution returned mismatched arrays"));
    }
    r.groups = groups;
    r.bindings = names
        .into_iter()
        .zip(stamps)
        .zip(groups_of)
        .map(|((n, s), g)| (n, s, g))
        .collect();
    // The default only matters to an active user who reaches no binding.
    if r.active && r.bindings.is_empty() && plans.default_policy.run(&[to_datum(r.tenant)]) == 1 {
        if let (Some(n), Some(s)) = (get::<String>(0, 1), get::<i64>(0, 2)) {
            r.default = Some((n, s));
        }
    }
    Ok(r)
}

/// Parsed documents for `wanted` (name, stamp), in order; cache misses are
/// loaded with one statement. A policy deleted between the two statements
/// yields an empty document, which allows nothing (fail closed).
fn documents(
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
        let n = plans.docs.run(&[to_datum(tenant), to_datum(missing)]);
        let mut rows = Vec::with_capacity(n);
        for i in 0..n {
            let name: String = get(i, 1).ok_or_else(|| internal("policy without a name"))?;
            let doc: JsonB = get(i, 2).ok_or_else(|| internal("policy without a document"))?;
            let stamp: i64 = get(i, 3).ok_or_else(|| internal("policy without a stamp"))?;
            rows.push((name, doc, stamp));
        }
        for (name, doc, stamp) in rows {
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

fn load(user_ref: &str) -> ScimResult<Loaded> {
    Spi::connect(|_client| {
        let plans = plans();
        let r = resolve(&plans, user_ref)?;
        let applies = r.user.is_some() && r.active;
        let mut wanted: Vec<(&str, i64)> = Vec::new();
        if applies {
            wanted.extend(r.bindings.iter().map(|(n, s, _)| (n.as_str(), *s)));
            if wanted.is_empty() {
                if let Some((n, s)) = &r.default {
                    wanted.push((n.as_str(), *s));
                }
            }
        }
        let mut docs = if wanted.is_empty() {
            Vec::new()
        } else {
            documents(&plans, r.tenant, &wanted)?
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
    let l = load(user_ref)?;
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
    let l = load(user_ref)?;
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

/// The hot path: may `user_ref` use `item` of `domain`? One statement
/// (user, direct groups, graph version); the rest comes from the tenant's
/// policy graph kept in memory ([`graph`]).
pub fn allows(user_ref: &str, domain: &str, item: &str) -> ScimResult<bool> {
    if item.is_empty() || item == WILDCARD {
        return Ok(false);
    }
    Spi::connect(|_client| {
        let u = resolve_user(&plans(), user_ref)?;
        if u.user.is_none() || !u.active {
            return Ok(false);
        }
        let g = graph::current(u.tenant, u.graph_version)?;
        let reached = g.reached(&u.direct_groups);
        let sources: Vec<Source> = reached
            .iter()
            .map(|&(policy, doc)| Source {
                group: "",
                policy,
                doc,
            })
            .collect();
        Ok(allows_from(&sources, g.default_policy(), domain, item))
    })
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
