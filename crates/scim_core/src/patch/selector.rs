//! The value filter inside `attr[...]` of a PATCH path.
//!
//! Parsing, binding and evaluating the filter is the filter module's job;
//! this file is the one place that talks to it. On top of that it reads
//! two shapes off the syntax tree that PATCH treats specially:
//!
//! * [`ValueSelector::member_ids`]: `value eq "a" [or value eq "b" …]` — a
//!   group member removal that never needs to read the member list;
//! * [`ValueSelector::eq_terms`]: `type eq "work" [and … eq …]` — a filter
//!   that describes the element it selects, so `add` (and `replace`) can
//!   create that element when it does not exist yet (Entra ID).

use crate::error::{ScimError, ScimResult};
use crate::filter::{self, CompValue, CompareOp, Filter};
use crate::schema::{ResolvedAttr, ResourceTypeDef};
use serde_json::{Map, Value};

/// A parsed and bound value filter, relative to the elements of one
/// multi-valued complex attribute.
#[derive(Clone, Debug)]
pub struct ValueSelector {
    raw: String,
    ast: Filter,
    bound: filter::BoundFilter,
}

impl ValueSelector {
    /// Parse and bind `raw` (the text between the brackets) for elements of
    /// `parent`. A filter that does not parse or names an unknown
    /// sub-attribute is a 400 `invalidPath`: it is part of the path.
    pub fn parse(
        rt: &ResourceTypeDef,
        parent: &ResolvedAttr,
        raw: &str,
    ) -> ScimResult<ValueSelector> {
        let as_path_error = |e: ScimError| {
            ScimError::invalid_path(format!(
                "invalid value filter in '{}[{}]': {}",
                parent.canonical_path(),
                raw,
                e.detail
            ))
        };
        if raw.trim().is_empty() {
            return Err(ScimError::invalid_path(format!(
                "empty value filter in '{}[]'",
                parent.canonical_path()
            )));
        }
        let ast = filter::parse_value_filter(raw).map_err(as_path_error)?;
        let bound = filter::bind_value_filter(rt, parent, &ast).map_err(as_path_error)?;
        Ok(ValueSelector {
            raw: raw.to_string(),
            ast,
            bound,
        })
    }

    /// The filter text as the client wrote it.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Does `element` (one value of the attribute) match?
    pub fn matches(&self, element: &Value) -> bool {
        filter::eval_value_filter(&self.bound, element)
    }

    /// `Some(ids)` when the filter is `value eq "id"` or an `or` of those
    /// (the shapes Entra and Okta use to remove members).
    pub fn member_ids(&self) -> Option<Vec<String>> {
        let one = |f: &Filter| match eq_term(f) {
            Some((name, Value::String(s))) if name.eq_ignore_ascii_case("value") => Some(s),
            _ => None,
        };
        match &self.ast {
            Filter::Or(items) => items.iter().map(one).collect(),
            f => one(f).map(|id| vec![id]),
        }
    }

    /// The element the filter describes, when it is an `eq` comparison or
    /// an `and` of them on distinct sub-attributes (`type eq "work"` →
    /// `{"type":"work"}`); `None` otherwise. Names are as written; the
    /// caller normalises the element.
    pub fn eq_terms(&self) -> Option<Map<String, Value>> {
        let terms: Vec<(String, Value)> = match &self.ast {
            Filter::And(items) => items.iter().map(eq_term).collect::<Option<_>>()?,
            f => vec![eq_term(f)?],
        };
        let mut m = Map::new();
        for (name, v) in terms {
            if m.keys().any(|k| k.eq_ignore_ascii_case(&name)) {
                return None; // `type eq "a" and type eq "b"`: no single element
            }
            m.insert(name, v);
        }
        Some(m)
    }
}

/// `sub eq literal` (no URN, no dotted name, non-null literal).
fn eq_term(f: &Filter) -> Option<(String, Value)> {
    let Filter::Compare {
        path,
        op: CompareOp::Eq,
        value,
    } = f
    else {
        return None;
    };
    if path.urn.is_some() || path.sub.is_some() {
        return None;
    }
    let v = match value {
        CompValue::String(s) => Value::String(s.clone()),
        CompValue::Number(n) => Value::Number(n.clone()),
        CompValue::Bool(b) => Value::Bool(*b),
        CompValue::Null => return None,
    };
    Some((path.name.clone(), v))
}
