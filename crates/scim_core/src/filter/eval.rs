//! In-memory evaluation of a [`BoundFilter`] against a resource's JSON
//! representation (as returned by GET). Must agree exactly with the SQL
//! compiler (`sql.rs`); the rules are listed in the module docs of
//! [`super`].

use std::cmp::Ordering;

use serde_json::Value;

use super::ast::CompareOp;
use super::bind::{parse_datetime, BoundAttr, BoundFilter, BoundValue};
use crate::casefold::fold_case;
use crate::schema::{AttrDef, AttrScope, AttrType, ResolvedAttr};

/// `pr`: present and non-empty: not missing, not null, not `""`, `[]`, `{}`.
pub fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// Object member by its canonical name, falling back to a
/// case-insensitive match (attribute names are case-insensitive).
fn get<'v>(obj: &'v Value, key: &str) -> Option<&'v Value> {
    let o = obj.as_object()?;
    o.get(key).or_else(|| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The value of `attr` (top level or under its extension URN).
fn attr_value<'v>(resource: &'v Value, a: &ResolvedAttr) -> Option<&'v Value> {
    let container = match a.scope {
        AttrScope::Extension(urn) => get(resource, urn)?,
        AttrScope::Common | AttrScope::Core => resource,
    };
    get(container, a.attr.name)
}

/// The elements of a complex attribute: the array's elements for a
/// multi-valued one (nothing if it is not an array), else the value.
fn elements<'v>(v: Option<&'v Value>, a: &ResolvedAttr) -> Vec<&'v Value> {
    match v {
        None => vec![],
        Some(Value::Array(items)) if a.attr.multi_valued => items.iter().collect(),
        Some(_) if a.attr.multi_valued => vec![],
        Some(v) => vec![v],
    }
}

/// Every value the attribute reference denotes (any may match).
fn candidates<'v>(
    b: &BoundAttr,
    resource: &'v Value,
    element: Option<&'v Value>,
) -> Vec<&'v Value> {
    let a = &b.resolved;
    if b.relative {
        let sub = a.leaf().name;
        return element.and_then(|e| get(e, sub)).into_iter().collect();
    }
    let v = attr_value(resource, a);
    match a.sub {
        // a multi-valued simple attribute: any of its values
        None if a.attr.multi_valued && a.attr.ty != AttrType::Complex => match v {
            Some(Value::Array(items)) => items.iter().collect(),
            _ => vec![],
        },
        None => v.into_iter().collect(),
        Some(sub) => elements(v, a)
            .into_iter()
            .filter_map(|e| get(e, sub.name))
            .collect(),
    }
}

/// A whole multi-valued simple attribute (`modelAccess`, not inside brackets).
fn is_simple_multi(b: &BoundAttr) -> bool {
    let a = &b.resolved;
    !b.relative && a.sub.is_none() && a.attr.multi_valued && a.attr.ty != AttrType::Complex
}

fn compare_str(a: &str, op: CompareOp, b: &str) -> bool {
    match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        // byte order == COLLATE "C"
        CompareOp::Gt => a.as_bytes() > b.as_bytes(),
        CompareOp::Ge => a.as_bytes() >= b.as_bytes(),
        CompareOp::Lt => a.as_bytes() < b.as_bytes(),
        CompareOp::Le => a.as_bytes() <= b.as_bytes(),
    }
}

fn compare_ord(ord: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        // rejected by bind
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// One candidate value against the literal. A value of the wrong JSON
/// type never matches (like a missing one).
fn compare(v: &Value, leaf: &AttrDef, op: CompareOp, lit: &BoundValue) -> bool {
    match (lit, v) {
        (BoundValue::String(b), Value::String(a)) => {
            if leaf.case_exact {
                compare_str(a, op, b)
            } else {
                compare_str(&fold_case(a), op, &fold_case(b))
            }
        }
        (BoundValue::Bool(b), Value::Bool(a)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        (BoundValue::DateTime(b), Value::String(a)) => match parse_datetime(a) {
            Some(a) => compare_ord(a.cmp(b), op),
            None => false,
        },
        (BoundValue::Number(b), Value::Number(a)) => match compare_numbers(a, b) {
            Some(ord) => compare_ord(ord, op),
            None => false,
        },
        _ => false,
    }
}

/// Numeric order as Postgres `numeric` sees it: exact for integers,
/// else by f64 (values SCIM stores fit it; the literal is finite).
fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn eval_in(f: &BoundFilter, resource: &Value, element: Option<&Value>) -> bool {
    match f {
        BoundFilter::Compare { attr, op, value } => candidates(attr, resource, element)
            .into_iter()
            .any(|v| compare(v, attr.leaf(), *op, value)),
        // a multi-valued simple attribute is present when its array is
        // non-empty (like `emails pr`)
        BoundFilter::Present(attr) if is_simple_multi(attr) => {
            attr_value(resource, &attr.resolved).is_some_and(is_present)
        }
        BoundFilter::Present(attr) => candidates(attr, resource, element)
            .into_iter()
            .any(is_present),
        BoundFilter::And(items) => items.iter().all(|i| eval_in(i, resource, element)),
        BoundFilter::Or(items) => items.iter().any(|i| eval_in(i, resource, element)),
        BoundFilter::Not(inner) => !eval_in(inner, resource, element),
        BoundFilter::ValuePath { attr, filter } => elements(attr_value(resource, attr), attr)
            .into_iter()
            .any(|e| e.is_object() && eval_in(filter, resource, Some(e))),
    }
}

/// Does `resource` (full JSON representation) satisfy the filter?
pub fn eval(filter: &BoundFilter, resource: &Value) -> bool {
    eval_in(filter, resource, None)
}

/// Does one element of a multi-valued complex attribute satisfy a value
/// filter bound with [`super::bind_value_filter`]? Non-objects never do.
pub fn eval_value_filter(filter: &BoundFilter, element: &Value) -> bool {
    element.is_object() && eval_in(filter, element, Some(element))
}
