//! The most-restrictive merge of the policies a user reaches.

use super::doc::{
    is_item_query, item_map_json, levels_json, limits_json, require_json, ItemSet, Level, Limit,
    PolicyDoc,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One binding the user reaches: a group they belong to (display name) and
/// the policy bound to it.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    pub group: &'a str,
    pub policy: &'a str,
    pub doc: &'a PolicyDoc,
}

/// Where an [`Effective`] policy came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Merged from the policies bound to the user's groups.
    Groups,
    /// The user reaches no bound policy; the default policy applies.
    Default,
    /// Nothing applies (no bound policy and no default, or the caller asked
    /// for [`Effective::nothing`], e.g. for an inactive user).
    None,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Groups => "groups",
            Origin::Default => "default",
            Origin::None => "none",
        }
    }
}

/// A user's effective policy. Cheap to query: [`Effective::allows`] is two
/// `BTreeMap` lookups and a binary search, with no allocation.
#[derive(Clone, Debug, PartialEq)]
pub struct Effective {
    allow: BTreeMap<String, ItemSet>,
    deny: BTreeMap<String, ItemSet>,
    require: BTreeMap<String, Vec<String>>,
    limits: BTreeMap<String, Limit>,
    levels: BTreeMap<String, Level>,
    policies: Vec<String>,
    origin: Origin,
}

impl Effective {
    /// Allows nothing, requires nothing, no limits. What a deactivated,
    /// deleted or unknown user gets.
    pub fn nothing() -> Effective {
        Effective {
            allow: BTreeMap::new(),
            deny: BTreeMap::new(),
            require: BTreeMap::new(),
            limits: BTreeMap::new(),
            levels: BTreeMap::new(),
            policies: Vec::new(),
            origin: Origin::None,
        }
    }

    /// `item` of `domain` is in the effective allow set (or the domain's
    /// allow is `"*"`) and is not denied. Matching is exact and
    /// case-sensitive; an empty `item` or `"*"` is never allowed.
    #[inline]
    pub fn allows(&self, domain: &str, item: &str) -> bool {
        is_item_query(item)
            && self.allow.get(domain).is_some_and(|s| s.contains(item))
            && !self.deny.get(domain).is_some_and(|s| s.contains(item))
    }

    /// `{"allow":{…},"deny":{…},"require":{…},"limits":{…}}`, all four keys
    /// always present, keys and items sorted.
    /// (`levels`, the ranked enums from group attributes, only when any.)
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "allow": item_map_json(&self.allow),
            "deny": item_map_json(&self.deny),
            "require": require_json(&self.require),
            "limits": limits_json(&self.limits),
        });
        if let (false, Some(m)) = (self.levels.is_empty(), v.as_object_mut()) {
            m.insert("levels".into(), levels_json(&self.levels));
        }
        v
    }

    /// Effective ranked enums: the most restrictive value per name.
    pub fn levels(&self) -> &BTreeMap<String, Level> {
        &self.levels
    }

    /// Names of the policies that make up this result, sorted and
    /// de-duplicated (a policy bound to several groups appears once). For
    /// [`Origin::Default`] it is the default policy's name; empty for
    /// [`Origin::None`].
    pub fn policies(&self) -> Vec<String> {
        self.policies.clone()
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Effective allow: only domains allowed by every policy appear.
    pub fn allow(&self) -> &BTreeMap<String, ItemSet> {
        &self.allow
    }

    /// Effective deny: union over the policies.
    pub fn deny(&self) -> &BTreeMap<String, ItemSet> {
        &self.deny
    }

    /// Effective requirements: union per name, sorted and de-duplicated.
    pub fn require(&self) -> &BTreeMap<String, Vec<String>> {
        &self.require
    }

    /// Requirements under one name (e.g. `"hooks"`); empty if none.
    pub fn required(&self, name: &str) -> &[String] {
        self.require.get(name).map_or(&[], Vec::as_slice)
    }

    /// Effective limits: the minimum over the policies that set each one.
    pub fn limits(&self) -> &BTreeMap<String, Limit> {
        &self.limits
    }

    /// One limit; `None` means unlimited (no policy set it).
    pub fn limit(&self, name: &str) -> Option<Limit> {
        self.limits.get(name).copied()
    }

    fn from_doc(name: &str, doc: &PolicyDoc, origin: Origin) -> Effective {
        Effective {
            allow: doc.allow.clone(),
            deny: doc.deny.clone(),
            require: doc.require.clone(),
            limits: doc.limits.clone(),
            levels: doc.levels.clone(),
            policies: vec![name.to_owned()],
            origin,
        }
    }
}

/// The most-restrictive merge of `sources`; when there are none, the
/// `default` policy `(name, doc)` if any, else [`Effective::nothing`].
///
/// * allow: intersection per domain, `"*"` being the identity; a policy that
///   omits a domain allows nothing in it.
/// * deny: union per domain (`"*"` absorbs everything).
/// * require: union per name, sorted and de-duplicated.
/// * limits: minimum per name over the policies that set it.
///
/// Allocation: the result's own strings plus a few small scratch vectors;
/// intersections clone only the surviving items.
pub fn merge(sources: &[Source], default: Option<(&str, &PolicyDoc)>) -> Effective {
    let Some(first) = sources.first() else {
        return match default {
            Some((name, doc)) => Effective::from_doc(name, doc, Origin::Default),
            None => Effective::nothing(),
        };
    };
    if sources.len() == 1 {
        return Effective::from_doc(first.policy, first.doc, Origin::Groups);
    }

    // allow: walk the domains of the bound policy with the fewest (a term
    // from a group attribute constrains only its own domain, so with only
    // such terms every domain one names), keep those every bound policy
    // has; intersect starting from the shortest explicit list.
    let pivot = sources
        .iter()
        .filter(|s| !s.doc.partial)
        .min_by_key(|s| s.doc.allow.len());
    let candidates: Vec<&String> = match pivot {
        Some(p) => p.doc.allow.keys().collect(),
        None => {
            let mut all: Vec<&String> = sources.iter().flat_map(|s| s.doc.allow.keys()).collect();
            all.sort_unstable();
            all.dedup();
            all
        }
    };
    let mut allow = BTreeMap::new();
    let mut lists: Vec<&[String]> = Vec::with_capacity(sources.len());
    'domains: for domain in candidates {
        lists.clear();
        for s in sources {
            match s.doc.allow.get(domain) {
                None if s.doc.partial => {}
                None => continue 'domains,
                Some(ItemSet::All) => {}
                Some(ItemSet::Items(v)) => lists.push(v),
            }
        }
        let set = match lists.iter().enumerate().min_by_key(|(_, l)| l.len()) {
            None => ItemSet::All,
            Some((bi, base)) => ItemSet::Items(
                base.iter()
                    .filter(|item| {
                        lists.iter().enumerate().all(|(i, l)| {
                            i == bi || l.binary_search_by(|p| p.as_str().cmp(item)).is_ok()
                        })
                    })
                    .cloned()
                    .collect(),
            ),
        };
        allow.insert(domain.clone(), set);
    }

    // deny: union; `None` stands for "*".
    let mut deny_acc: BTreeMap<&str, Option<Vec<&str>>> = BTreeMap::new();
    let mut require_acc: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut limits: BTreeMap<String, Limit> = BTreeMap::new();
    let mut levels: BTreeMap<String, Level> = BTreeMap::new();
    let mut policies: Vec<&str> = Vec::with_capacity(sources.len());
    for s in sources {
        policies.push(s.policy);
        for (name, level) in &s.doc.levels {
            match levels.get_mut(name.as_str()) {
                Some(cur) if cur.rank >= level.rank => {}
                Some(cur) => *cur = level.clone(),
                None => {
                    levels.insert(name.clone(), level.clone());
                }
            }
        }
        for (domain, set) in &s.doc.deny {
            let acc = deny_acc
                .entry(domain.as_str())
                .or_insert_with(|| Some(Vec::new()));
            match (set, acc.as_mut()) {
                (_, None) => {}
                (ItemSet::All, Some(_)) => *acc = None,
                (ItemSet::Items(v), Some(acc)) => acc.extend(v.iter().map(String::as_str)),
            }
        }
        for (name, v) in &s.doc.require {
            require_acc
                .entry(name.as_str())
                .or_default()
                .extend(v.iter().map(String::as_str));
        }
        for (name, &lim) in &s.doc.limits {
            match limits.get_mut(name.as_str()) {
                Some(cur) => {
                    if lim.cmp_value(*cur).is_lt() {
                        *cur = lim;
                    }
                }
                None => {
                    limits.insert(name.clone(), lim);
                }
            }
        }
    }
    let deny = deny_acc
        .into_iter()
        .map(|(domain, acc)| {
            let set = match acc {
                None => ItemSet::All,
                Some(items) => ItemSet::Items(sorted_owned(items)),
            };
            (domain.to_owned(), set)
        })
        .collect();
    let require = require_acc
        .into_iter()
        .map(|(name, items)| (name.to_owned(), sorted_owned(items)))
        .collect();

    Effective {
        allow,
        deny,
        require,
        limits,
        levels,
        policies: sorted_owned(policies),
        origin: Origin::Groups,
    }
}

fn sorted_owned(mut v: Vec<&str>) -> Vec<String> {
    v.sort_unstable();
    v.dedup();
    v.into_iter().map(str::to_owned).collect()
}

/// The same answer as `merge(sources, default).allows(domain, item)`, without
/// building the merged policy: looks only at `domain`, allocates nothing,
/// and stops at the first policy that rules the item out.
pub fn allows_from(
    sources: &[Source],
    default: Option<(&str, &PolicyDoc)>,
    domain: &str,
    item: &str,
) -> bool {
    if sources.is_empty() {
        return default.is_some_and(|(_, doc)| doc.allows(domain, item));
    }
    is_item_query(item)
        && sources.iter().any(|s| s.doc.allow.contains_key(domain))
        && sources.iter().all(|s| match s.doc.allow.get(domain) {
            Some(set) => set.contains(item),
            None => s.doc.partial,
        })
        && !sources
            .iter()
            .any(|s| s.doc.deny.get(domain).is_some_and(|set| set.contains(item)))
}
