//! Policy documents: validation on write and the normalised in-memory form.

use crate::error::{ScimError, ScimResult};
use serde_json::{json, Map, Number, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// The only wildcard: as the whole value of `allow.<domain>` or
/// `deny.<domain>` it means "every item of the domain". It is never a
/// valid item.
pub const WILDCARD: &str = "*";

/// The top-level keys a document may have, in the order error messages list
/// them.
const TOP_LEVEL_KEYS: [&str; 4] = ["allow", "deny", "require", "limits"];

/// The items of one domain in an `allow` or `deny` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemSet {
    /// `"*"`: every item of the domain.
    All,
    /// An explicit list, sorted ascending (byte order) and duplicate-free.
    Items(Vec<String>),
}

impl ItemSet {
    /// Whether `item` is in the set (exact, case-sensitive match).
    #[inline]
    pub fn contains(&self, item: &str) -> bool {
        match self {
            ItemSet::All => true,
            ItemSet::Items(items) => items
                .binary_search_by(|probe| probe.as_str().cmp(item))
                .is_ok(),
        }
    }

    /// `"*"` or the sorted array of items.
    pub fn to_json(&self) -> Value {
        match self {
            ItemSet::All => Value::String(WILDCARD.to_owned()),
            ItemSet::Items(items) => {
                Value::Array(items.iter().cloned().map(Value::String).collect())
            }
        }
    }
}

/// A numeric limit. Non-negative integers are kept exact (so `100` stays
/// `100` in JSON); everything else is a finite, non-negative `f64`.
/// Integral floats (`10.0`) are normalised to [`Limit::Int`] when exactly
/// representable.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    Int(u64),
    Float(f64),
}

impl Limit {
    pub fn as_f64(self) -> f64 {
        match self {
            Limit::Int(n) => n as f64,
            Limit::Float(f) => f,
        }
    }

    /// Total order on valid limits (always finite and non-negative).
    pub fn cmp_value(self, other: Limit) -> Ordering {
        match (self, other) {
            (Limit::Int(a), Limit::Int(b)) => a.cmp(&b),
            (a, b) => a.as_f64().total_cmp(&b.as_f64()),
        }
    }

    pub fn to_json(self) -> Value {
        match self {
            Limit::Int(n) => Value::Number(n.into()),
            // Valid limits are finite, so `from_f64` cannot fail.
            Limit::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        }
    }

    /// A valid limit (finite, non-negative) from a JSON number.
    pub fn from_number(n: &Number) -> Option<Limit> {
        if let Some(u) = n.as_u64() {
            return Some(Limit::Int(u));
        }
        let f = n.as_f64()?;
        if !f.is_finite() || f < 0.0 {
            return None;
        }
        // 2^53: every integer below it is exactly representable.
        if f.fract() == 0.0 && f < 9_007_199_254_740_992.0 {
            return Some(Limit::Int(f as u64));
        }
        Some(Limit::Float(f))
    }
}

/// A validated, normalised policy document. Build one with [`validate`].
///
/// Invariants: every name (domain, requirement, limit) and every item is a
/// non-empty string without leading/trailing whitespace; item lists are
/// sorted and duplicate-free; `"*"` never appears as an item; limits are
/// finite and non-negative.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyDoc {
    pub(crate) allow: BTreeMap<String, ItemSet>,
    pub(crate) deny: BTreeMap<String, ItemSet>,
    pub(crate) require: BTreeMap<String, Vec<String>>,
    pub(crate) limits: BTreeMap<String, Limit>,
    /// Ranked enums (`levels`): name → the value set and its rank (higher is
    /// more restrictive). Only terms from group attributes have them.
    pub(crate) levels: BTreeMap<String, Level>,
    /// A term derived from a group attribute ([`PolicyDoc::attribute_term`]):
    /// an `allow` domain it does not name is not constrained by it (a
    /// bound policy document that omits a domain allows nothing in it).
    pub(crate) partial: bool,
}

/// One ranked-enum value: its rank in the mapping's declared order
/// (0 = least restrictive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Level {
    pub rank: usize,
    pub value: String,
}

impl AttributeTerm {
    /// The term a group attribute's stored `value` gives under a mapping
    /// (`kind`: allow | limit | require | rank, `target`: the domain or
    /// name, `ranks`: a rank mapping's values, least restrictive first).
    /// Fails closed: a negative limit is 0, a rank value not in `ranks` is
    /// more restrictive than every listed one. `None` for a value of the
    /// wrong JSON type (stored values are validated, so only after a
    /// mapping changed kind).
    pub fn from_value(
        kind: &str,
        target: &str,
        ranks: &[String],
        value: &Value,
    ) -> Option<AttributeTerm> {
        let strings = || -> Option<Vec<String>> {
            match value {
                Value::String(s) => Some(vec![s.clone()]),
                Value::Array(a) => a.iter().map(|v| v.as_str().map(str::to_string)).collect(),
                _ => None,
            }
        };
        let name = target.to_string();
        Some(match kind {
            "allow" => AttributeTerm::Allow {
                domain: name,
                items: strings()?,
            },
            "require" => AttributeTerm::Require {
                name,
                values: strings()?,
            },
            "limit" => {
                let n = value.as_number()?;
                let value = Limit::from_number(n).unwrap_or(Limit::Int(0));
                AttributeTerm::Limit { name, value }
            }
            "rank" => {
                let v = value.as_str()?;
                let rank = ranks
                    .iter()
                    .position(|r| r.eq_ignore_ascii_case(v))
                    .unwrap_or(ranks.len());
                AttributeTerm::Rank {
                    name,
                    level: Level {
                        rank,
                        value: v.to_string(),
                    },
                }
            }
            _ => return None,
        })
    }
}

/// What a mapped group attribute contributes (see
/// [`PolicyDoc::attribute_term`]).
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeTerm {
    /// An allow list of `domain` (intersected with every other policy).
    Allow { domain: String, items: Vec<String> },
    /// A limit (the minimum wins).
    Limit { name: String, value: Limit },
    /// A required set (union).
    Require { name: String, values: Vec<String> },
    /// A ranked enum (the highest rank wins).
    Rank { name: String, level: Level },
}

impl PolicyDoc {
    /// `allow`: domain → items. A domain that is absent allows nothing.
    pub fn allow(&self) -> &BTreeMap<String, ItemSet> {
        &self.allow
    }
    /// `deny`: domain → items (`"*"` denies the whole domain).
    pub fn deny(&self) -> &BTreeMap<String, ItemSet> {
        &self.deny
    }
    /// `require`: name → sorted, duplicate-free list of strings.
    pub fn require(&self) -> &BTreeMap<String, Vec<String>> {
        &self.require
    }
    /// `limits`: name → value.
    pub fn limits(&self) -> &BTreeMap<String, Limit> {
        &self.limits
    }

    /// The policy a group attribute stands for: just `term`, and no
    /// constraint on any other allow domain.
    pub fn attribute_term(term: AttributeTerm) -> PolicyDoc {
        let mut d = PolicyDoc {
            partial: true,
            ..PolicyDoc::default()
        };
        match term {
            AttributeTerm::Allow { domain, mut items } => {
                items.sort();
                items.dedup();
                items.retain(|i| is_item_query(i));
                d.allow.insert(domain, ItemSet::Items(items));
            }
            AttributeTerm::Limit { name, value } => {
                d.limits.insert(name, value);
            }
            AttributeTerm::Require { name, mut values } => {
                values.sort();
                values.dedup();
                d.require.insert(name, values);
            }
            AttributeTerm::Rank { name, level } => {
                d.levels.insert(name, level);
            }
        }
        d
    }

    /// Derived from a group attribute (see [`PolicyDoc::attribute_term`]).
    pub fn is_attribute_term(&self) -> bool {
        self.partial
    }

    /// This document on its own: allowed by `allow` and not denied by `deny`.
    /// Empty items and `"*"` are never allowed (fail closed).
    #[inline]
    pub fn allows(&self, domain: &str, item: &str) -> bool {
        is_item_query(item)
            && self.allow.get(domain).is_some_and(|s| s.contains(item))
            && !self.deny.get(domain).is_some_and(|s| s.contains(item))
    }

    /// The normalised form: all four keys present, maps sorted by key, item
    /// lists sorted and de-duplicated. `validate(&doc.to_json())` gives the
    /// same document back.
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
}

/// `{"<name>": "<value>"}` of ranked enums.
pub(crate) fn levels_json(m: &BTreeMap<String, Level>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, l)| (k.clone(), Value::String(l.value.clone())))
            .collect(),
    )
}

/// `item` could name something: non-empty and not the wildcard.
#[inline]
pub(crate) fn is_item_query(item: &str) -> bool {
    !item.is_empty() && item != WILDCARD
}

pub(crate) fn item_map_json(m: &BTreeMap<String, ItemSet>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

pub(crate) fn require_json(m: &BTreeMap<String, Vec<String>>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    Value::Array(v.iter().cloned().map(Value::String).collect()),
                )
            })
            .collect(),
    )
}

pub(crate) fn limits_json(m: &BTreeMap<String, Limit>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// Validate a policy document as written by an admin and normalise it.
///
/// Errors are `ScimError::invalid_value` whose detail names the exact
/// offending location, e.g. `allow.skills[2] must be a string`.
pub fn validate(doc: &Value) -> ScimResult<PolicyDoc> {
    let obj = doc
        .as_object()
        .ok_or_else(|| ScimError::invalid_value("policy document must be a JSON object"))?;
    if let Some(key) = obj.keys().find(|k| !TOP_LEVEL_KEYS.contains(&k.as_str())) {
        return Err(ScimError::invalid_value(format!(
            "unknown top-level key \"{key}\" (expected one of: allow, deny, require, limits)"
        )));
    }
    let mut out = PolicyDoc::default();
    if let Some(v) = obj.get("allow") {
        out.allow = item_map("allow", v)?;
    }
    if let Some(v) = obj.get("deny") {
        out.deny = item_map("deny", v)?;
    }
    if let Some(v) = obj.get("require") {
        let m = section_object("require", v)?;
        for (name, list) in m {
            check_name("require", "name", name)?;
            let path = format!("require.{name}");
            let Value::Array(items) = list else {
                return Err(ScimError::invalid_value(format!(
                    "{path} must be an array of strings"
                )));
            };
            out.require
                .insert(name.clone(), string_list(&path, items, false)?);
        }
    }
    if let Some(v) = obj.get("limits") {
        let m = section_object("limits", v)?;
        for (name, n) in m {
            check_name("limits", "name", name)?;
            let Value::Number(num) = n else {
                return Err(ScimError::invalid_value(format!(
                    "limits.{name} must be a number"
                )));
            };
            let lim = Limit::from_number(num).ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "limits.{name} must be a finite, non-negative number"
                ))
            })?;
            out.limits.insert(name.clone(), lim);
        }
    }
    Ok(out)
}

fn section_object<'v>(section: &str, v: &'v Value) -> ScimResult<&'v Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| ScimError::invalid_value(format!("{section} must be an object")))
}

/// Names (domains, requirement and limit names) and items share one rule:
/// non-empty, no surrounding whitespace (`" git"` would silently never match).
fn check_text(what: impl FnOnce() -> String, s: &str) -> ScimResult<()> {
    if s.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "{} must not be empty",
            what()
        )));
    }
    if s.trim() != s {
        return Err(ScimError::invalid_value(format!(
            "{} must not have leading or trailing whitespace",
            what()
        )));
    }
    Ok(())
}

fn check_name(section: &str, noun: &str, name: &str) -> ScimResult<()> {
    if name.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "{section} has an empty {noun}"
        )));
    }
    check_text(|| format!("{section} {noun} \"{name}\""), name)
}

fn item_map(section: &str, v: &Value) -> ScimResult<BTreeMap<String, ItemSet>> {
    let m = section_object(section, v)?;
    let mut out = BTreeMap::new();
    for (domain, val) in m {
        check_name(section, "domain name", domain)?;
        let path = format!("{section}.{domain}");
        let set = match val {
            Value::String(s) if s == WILDCARD => ItemSet::All,
            Value::Array(items) => ItemSet::Items(string_list(&path, items, true)?),
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "{path} must be an array of strings or \"*\""
                )))
            }
        };
        out.insert(domain.clone(), set);
    }
    Ok(out)
}

/// An array of non-empty, trimmed, distinct strings → sorted list. With
/// `item_set`, `"*"` is rejected as an item (it is only valid as the whole
/// value of an allow/deny domain).
fn string_list(path: &str, items: &[Value], item_set: bool) -> ScimResult<Vec<String>> {
    let mut out: Vec<(usize, &str)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::String(s) = item else {
            return Err(ScimError::invalid_value(format!(
                "{path}[{i}] must be a string"
            )));
        };
        check_text(|| format!("{path}[{i}]"), s)?;
        if item_set && s == WILDCARD {
            return Err(ScimError::invalid_value(format!(
                "{path}[{i}] is \"*\", which is only valid as the whole value \
                 ({path}: \"*\"), not as an item"
            )));
        }
        out.push((i, s.as_str()));
    }
    out.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(&b.0)));
    if let Some(w) = out.windows(2).find(|w| w[0].1 == w[1].1) {
        return Err(ScimError::invalid_value(format!(
            "{path}[{}] duplicates {path}[{}] (\"{}\")",
            w[1].0, w[0].0, w[0].1
        )));
    }
    Ok(out.into_iter().map(|(_, s)| s.to_owned()).collect())
}
