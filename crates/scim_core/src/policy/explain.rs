//! Why a user's effective policy is what it is. The output shape is
//! documented on [`explain`].

use super::doc::{ItemSet, Limit, PolicyDoc};
use super::merge::{merge, Source};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

const DOMAIN_NOT_ALLOWED: &str = "domain not allowed";
const ITEM_NOT_LISTED: &str = "item not listed";

/// A binding as explain sees it: the default policy has no group.
struct Binding<'a> {
    group: Option<&'a str>,
    policy: &'a str,
    doc: &'a PolicyDoc,
}

impl Binding<'_> {
    fn who(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("group".into(), self.group.map_or(Value::Null, Value::from));
        m.insert("policy".into(), Value::from(self.policy));
        m
    }
    fn who_with(&self, key: &str, value: Value) -> Value {
        let mut m = self.who();
        m.insert(key.into(), value);
        Value::Object(m)
    }
}

/// Explain the merge of `sources` (or of the `default` when there are none).
///
/// ```text
/// {
///   "source":   "groups" | "default" | "none",
///   "policies": ["dev", "ops"],                       // Effective::policies()
///   "bindings": [{"group": "eng", "policy": "dev"}, …],
///   "effective": { "allow": …, "deny": …, "require": …, "limits": … },
///   "domains": {                  // every domain named in any allow or deny
///     "<domain>": {
///       "allow": "*" | [...],     // effective allow ([] if not allowed)
///       "deny":  "*" | [...],     // effective deny ([] if none)
///       "allowed_by": [{"group","policy","via": "*" | "list"}],
///       "removed_by": [{"group","policy","reason": "domain not allowed"}],
///       "denied_by":  [{"group","policy","via": "*"}],   // whole-domain denies
///       "items": {                // every item named in any allow/deny list
///         "<item>": {
///           "allowed": bool,      // == Effective::allows(domain, item)
///           "allowed_by": [{"group","policy","via": "item" | "*"}],
///           "removed_by": [{"group","policy",
///                           "reason": "domain not allowed" | "item not listed"}],
///           "denied_by":  [{"group","policy","via": "item" | "*"}]
///         }
///       }
///     }
///   },
///   "require": {"<name>": {"<value>": [{"group","policy"}]}},
///   "limits":  {"<name>": {"value": n, "set_by": [{"group","policy","value": n}]}},
///   "levels":  {"<name>": {"value": v, "set_by": [{"group","policy","value","rank"}]}}
/// }
/// ```
///
/// `levels` only appears when a group attribute sets one. A term from a
/// group attribute has the attribute's path (`urn:…:Group:2.0:quotaTokens`)
/// as its `policy`, and never removes a domain it does not name.
///
/// For the default policy `group` is `null`. Every list of bindings is
/// sorted by (group, policy), so the output does not depend on the order of
/// `sources`. An item is allowed iff `removed_by` and `denied_by` are both
/// empty (and there is at least one binding).
pub fn explain(sources: &[Source], default: Option<(&str, &PolicyDoc)>) -> Value {
    let eff = merge(sources, default);
    let mut bindings: Vec<Binding> = if sources.is_empty() {
        default
            .map(|(policy, doc)| Binding {
                group: None,
                policy,
                doc,
            })
            .into_iter()
            .collect()
    } else {
        sources
            .iter()
            .map(|s| Binding {
                group: Some(s.group),
                policy: s.policy,
                doc: s.doc,
            })
            .collect()
    };
    bindings.sort_by(|a, b| (a.group, a.policy).cmp(&(b.group, b.policy)));

    let domain_names: BTreeSet<&str> = bindings
        .iter()
        .flat_map(|b| b.doc.allow.keys().chain(b.doc.deny.keys()))
        .map(String::as_str)
        .collect();

    let mut domains = Map::new();
    for domain in domain_names {
        let mut d = Map::new();
        d.insert(
            "allow".into(),
            eff.allow()
                .get(domain)
                .map_or_else(|| json!([]), ItemSet::to_json),
        );
        d.insert(
            "deny".into(),
            eff.deny()
                .get(domain)
                .map_or_else(|| json!([]), ItemSet::to_json),
        );
        let (mut allowed_by, mut removed_by, mut denied_by) = (vec![], vec![], vec![]);
        for b in &bindings {
            match b.doc.allow.get(domain) {
                Some(ItemSet::All) => allowed_by.push(b.who_with("via", json!("*"))),
                Some(ItemSet::Items(_)) => allowed_by.push(b.who_with("via", json!("list"))),
                None if b.doc.partial => {}
                None => removed_by.push(b.who_with("reason", json!(DOMAIN_NOT_ALLOWED))),
            }
            if let Some(ItemSet::All) = b.doc.deny.get(domain) {
                denied_by.push(b.who_with("via", json!("*")));
            }
        }
        d.insert("allowed_by".into(), Value::Array(allowed_by));
        d.insert("removed_by".into(), Value::Array(removed_by));
        d.insert("denied_by".into(), Value::Array(denied_by));

        let item_names: BTreeSet<&str> = bindings
            .iter()
            .flat_map(|b| [b.doc.allow.get(domain), b.doc.deny.get(domain)])
            .flatten()
            .flat_map(|set| match set {
                ItemSet::All => &[][..],
                ItemSet::Items(v) => v.as_slice(),
            })
            .map(String::as_str)
            .collect();
        let mut items = Map::new();
        for item in item_names {
            let (mut allowed_by, mut removed_by, mut denied_by) = (vec![], vec![], vec![]);
            for b in &bindings {
                match b.doc.allow.get(domain) {
                    Some(ItemSet::All) => allowed_by.push(b.who_with("via", json!("*"))),
                    Some(set) if set.contains(item) => {
                        allowed_by.push(b.who_with("via", json!("item")))
                    }
                    Some(_) => removed_by.push(b.who_with("reason", json!(ITEM_NOT_LISTED))),
                    None if b.doc.partial => {}
                    None => removed_by.push(b.who_with("reason", json!(DOMAIN_NOT_ALLOWED))),
                }
                match b.doc.deny.get(domain) {
                    Some(ItemSet::All) => denied_by.push(b.who_with("via", json!("*"))),
                    Some(set) if set.contains(item) => {
                        denied_by.push(b.who_with("via", json!("item")))
                    }
                    _ => {}
                }
            }
            items.insert(
                item.to_owned(),
                json!({
                    "allowed": eff.allows(domain, item),
                    "allowed_by": allowed_by,
                    "removed_by": removed_by,
                    "denied_by": denied_by,
                }),
            );
        }
        d.insert("items".into(), Value::Object(items));
        domains.insert(domain.to_owned(), Value::Object(d));
    }

    // require: name → value → who requires it.
    let mut require: BTreeMap<&str, BTreeMap<&str, Vec<Value>>> = BTreeMap::new();
    // limits: name → [who + value].
    let mut limits: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for b in &bindings {
        for (name, values) in &b.doc.require {
            let per = require.entry(name).or_default();
            for v in values {
                per.entry(v).or_default().push(Value::Object(b.who()));
            }
        }
        for (name, &lim) in &b.doc.limits {
            limits
                .entry(name)
                .or_default()
                .push(b.who_with("value", lim.to_json()));
        }
    }
    let require: Map<String, Value> = require
        .into_iter()
        .map(|(name, per)| {
            let per: Map<String, Value> = per
                .into_iter()
                .map(|(v, who)| (v.to_owned(), Value::Array(who)))
                .collect();
            (name.to_owned(), Value::Object(per))
        })
        .collect();
    // levels: name → [who + value + rank].
    let mut levels: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for b in &bindings {
        for (name, level) in &b.doc.levels {
            let mut who = b.who();
            who.insert("value".into(), json!(level.value));
            who.insert("rank".into(), json!(level.rank));
            levels.entry(name).or_default().push(Value::Object(who));
        }
    }
    let levels: Map<String, Value> = levels
        .into_iter()
        .map(|(name, set_by)| {
            let value = eff
                .levels()
                .get(name)
                .map_or(Value::Null, |l| json!(l.value));
            (name.to_owned(), json!({"value": value, "set_by": set_by}))
        })
        .collect();
    let limits: Map<String, Value> = limits
        .into_iter()
        .map(|(name, set_by)| {
            let value = eff.limit(name).map_or(Value::Null, Limit::to_json);
            (name.to_owned(), json!({"value": value, "set_by": set_by}))
        })
        .collect();

    let mut out = json!({
        "source": eff.origin().as_str(),
        "policies": eff.policies(),
        "bindings": bindings.iter().map(|b| Value::Object(b.who())).collect::<Vec<_>>(),
        "effective": eff.to_json(),
        "domains": domains,
        "require": require,
        "limits": limits,
    });
    if let (false, Some(m)) = (levels.is_empty(), out.as_object_mut()) {
        m.insert("levels".into(), Value::Object(levels));
    }
    out
}
