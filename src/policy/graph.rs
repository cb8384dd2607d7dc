//! A tenant's policy graph, kept per backend for the `policy_allows` hot
//! path: group nesting edges, which policies are bound to which groups
//! (documents parsed), and the default policy. A call then needs only the
//! user, their direct groups and the graph's version from the database.
//!
//! Validity: every change to those tables bumps `scim.tenants.policy_epoch`
//! in the changing transaction (triggers in sql/policy_notify.sql), so a graph
//! read together with the tenant row version `(xmin, policy_epoch)` is right
//! for every snapshot that sees that same row version. `xmin` is in the key
//! because an epoch value alone can repeat: a rolled-back transaction may
//! have seen epoch n+1 that a later transaction then writes again.
//!
//! User memberships are not part of the graph (they change all the time
//! and are read on each call), nor are users' `active` flags.

use crate::spi::plan::{get, get_json, oid, Plan};
use pgrx::pg_sys::BuiltinOid;
use pgrx::prelude::*;
use scim_core::policy::{validate, AttributeTerm, PolicyDoc};
use scim_core::{ScimError, ScimResult};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

pub type GroupId = [u8; 16];
type TenantKey = [u8; 16];

/// The row version of the tenant the graph was read with: (xmin, epoch).
pub type GraphVersion = (i64, i64);

/// Group-in-group edges: member group → the group that contains it.
const EDGES: &str = "
SELECT m.member_id, m.group_id FROM scim.members m
 WHERE m.tenant_id = $1 AND m.member_type = 'Group'";

/// Every binding with its policy's document.
const BINDINGS: &str = "
SELECT b.group_id, p.name, p.document
  FROM scim.policy_bindings b
  JOIN scim.policies p ON p.tenant_id = b.tenant_id AND p.name = b.policy
 WHERE b.tenant_id = $1";

/// The default policy (a dangling name is no default).
const DEFAULT: &str = "
SELECT dp.name, dp.document
  FROM scim.tenants te
  JOIN scim.policies dp ON dp.tenant_id = te.id AND dp.name = te.default_policy
 WHERE te.id = $1";

/// Every mapped group attribute with a value (sql/policy_attributes.sql):
/// each is a policy bound to its group (issue 13).
const ATTRIBUTE_TERMS: &str = "
SELECT g.id, m.urn || ':' || m.attribute, m.kind, m.target, m.ranks, g.resource->m.urn->m.attribute
  FROM scim.policy_attribute_maps m
  JOIN scim.groups g ON g.tenant_id = m.tenant_id AND (g.resource->m.urn) ? m.attribute
 WHERE m.tenant_id = $1";

/// Tenants whose graph a backend keeps before it starts over.
const MAX_TENANTS: usize = 256;

#[derive(Default)]
pub struct Graph {
    /// group → the groups it is a direct member of.
    parents: HashMap<GroupId, Vec<GroupId>>,
    /// group → indexes into `policies`.
    bound: HashMap<GroupId, Vec<usize>>,
    /// Every bound policy once, and its index by name.
    policies: Vec<(String, PolicyDoc)>,
    by_name: HashMap<String, usize>,
    default: Option<(String, PolicyDoc)>,
    /// What an unknown name maps to: allows nothing.
    empty: PolicyDoc,
}

impl Graph {
    /// The user's groups: `direct` and every group above them, each once
    /// (the one nested-group walk: cycles are harmless).
    pub fn ancestors(&self, direct: &[GroupId]) -> HashSet<GroupId> {
        let mut seen: HashSet<GroupId> = HashSet::new();
        let mut stack: Vec<GroupId> = direct.to_vec();
        while let Some(g) = stack.pop() {
            pgrx::check_for_interrupts!();
            if !seen.insert(g) {
                continue;
            }
            if let Some(up) = self.parents.get(&g) {
                stack.extend(up.iter().filter(|p| !seen.contains(*p)));
            }
        }
        seen
    }

    /// The policies bound to `group` (indexes for [`Graph::policy_at`]):
    /// documents bound by name and terms from the group's attributes.
    pub fn bound_to(&self, group: &GroupId) -> impl Iterator<Item = usize> + '_ {
        self.bound.get(group).into_iter().flatten().copied()
    }

    /// Name and document of bound policy `i` (from [`Graph::bound_to`]);
    /// an unknown index allows nothing (fail closed).
    pub fn policy_at(&self, i: usize) -> (&str, &PolicyDoc) {
        self.policies
            .get(i)
            .map_or(("", &self.empty), |(n, d)| (n.as_str(), d))
    }

    /// The policies bound to `direct` groups or to any group above them,
    /// each once.
    pub fn reached(&self, direct: &[GroupId]) -> Vec<(&str, &PolicyDoc)> {
        let mut found: Vec<usize> = self
            .ancestors(direct)
            .iter()
            .filter_map(|g| self.bound.get(g))
            .flatten()
            .copied()
            .collect();
        found.sort_unstable();
        found.dedup();
        found
            .into_iter()
            .filter_map(|i| self.policies.get(i))
            .map(|(name, doc)| (name.as_str(), doc))
            .collect()
    }

    pub fn default_policy(&self) -> Option<(&str, &PolicyDoc)> {
        self.default.as_ref().map(|(n, d)| (n.as_str(), d))
    }
}

struct Plans {
    edges: Plan,
    bindings: Plan,
    default: Plan,
    attribute_terms: Plan,
}

thread_local! {
    static PLANS: RefCell<Option<Rc<Plans>>> = const { RefCell::new(None) };
    static GRAPHS: RefCell<HashMap<TenantKey, (GraphVersion, Rc<Graph>)>> =
        RefCell::new(HashMap::new());
}

fn plans() -> ScimResult<Rc<Plans>> {
    if let Some(p) = PLANS.with(|p| p.borrow().clone()) {
        return Ok(p);
    }
    let uuid = oid(BuiltinOid::UUIDOID);
    let p = Rc::new(Plans {
        edges: Plan::prepare(EDGES, &[uuid])?,
        bindings: Plan::prepare(BINDINGS, &[uuid])?,
        default: Plan::prepare(DEFAULT, &[uuid])?,
        attribute_terms: Plan::prepare(ATTRIBUTE_TERMS, &[uuid])?,
    });
    PLANS.with(|cell| *cell.borrow_mut() = Some(p.clone()));
    Ok(p)
}

fn internal(msg: String) -> ScimError {
    ScimError::new(500, None, msg)
}

fn group_id(row: usize, col: i32) -> ScimResult<GroupId> {
    get::<pgrx::Uuid>(row, col)
        .map(|u| *u.as_bytes())
        .ok_or_else(|| internal("policy graph: NULL group id".into()))
}

fn parse(name: &str, doc: Option<Value>) -> ScimResult<PolicyDoc> {
    let doc = doc.ok_or_else(|| internal(format!("policy \"{name}\" has no document")))?;
    validate(&doc)
        .map_err(|e| internal(format!("stored policy \"{name}\" is invalid: {}", e.detail)))
}

/// Read the graph (inside an SPI connection, in the caller's snapshot).
fn load(tenant: pgrx::Uuid) -> ScimResult<Graph> {
    let plans = plans()?;
    let t = [tenant.into_datum()];
    let mut g = Graph::default();

    for i in 0..plans.edges.run(&t)? {
        pgrx::check_for_interrupts!();
        let (member, parent) = (group_id(i, 1)?, group_id(i, 2)?);
        g.parents.entry(member).or_default().push(parent);
    }

    let n = plans.bindings.run(&t)?;
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let name: String = get(i, 2).ok_or_else(|| internal("policy without a name".into()))?;
        rows.push((group_id(i, 1)?, name, get_json(i, 3)?));
    }
    for (group, name, doc) in rows {
        let i = match g.by_name.get(&name) {
            Some(&i) => i,
            None => {
                g.policies.push((name.clone(), parse(&name, doc)?));
                g.by_name.insert(name, g.policies.len() - 1);
                g.policies.len() - 1
            }
        };
        g.bound.entry(group).or_default().push(i);
    }

    let n = plans.attribute_terms.run(&t)?;
    let mut terms = Vec::with_capacity(n);
    for i in 0..n {
        pgrx::check_for_interrupts!();
        let name: String =
            get(i, 2).ok_or_else(|| internal("attribute term without a name".into()))?;
        let kind: String = get(i, 3).unwrap_or_default();
        let target: String = get(i, 4).unwrap_or_default();
        let ranks: Vec<String> = match get_json(i, 5)? {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        terms.push((group_id(i, 1)?, name, kind, target, ranks, get_json(i, 6)?));
    }
    for (group, name, kind, target, ranks, value) in terms {
        let term = value.and_then(|v| AttributeTerm::from_value(&kind, &target, &ranks, &v));
        if let Some(term) = term {
            g.policies.push((name, PolicyDoc::attribute_term(term)));
            g.bound.entry(group).or_default().push(g.policies.len() - 1);
        }
    }

    if plans.default.run(&t)? == 1 {
        if let Some(name) = get::<String>(0, 1) {
            let doc = parse(&name, get_json(0, 2)?)?;
            g.default = Some((name, doc));
        }
    }
    Ok(g)
}

/// The tenant's graph at `version`, from memory or read now (inside an SPI
/// connection, in the same snapshot `version` was read in).
pub fn current(tenant: pgrx::Uuid, version: GraphVersion) -> ScimResult<Rc<Graph>> {
    let key: TenantKey = *tenant.as_bytes();
    let kept = GRAPHS.with(|m| {
        m.borrow()
            .get(&key)
            .filter(|(v, _)| *v == version)
            .map(|(_, g)| g.clone())
    });
    if let Some(g) = kept {
        return Ok(g);
    }
    let g = Rc::new(load(tenant)?);
    GRAPHS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_TENANTS && !m.contains_key(&key) {
            m.clear();
        }
        m.insert(key, (version, g.clone()));
    });
    Ok(g)
}
