//! Resolve a parsed [`Filter`] against a resource type's schema and type
//! check it, producing a [`BoundFilter`] that the evaluator and the SQL
//! compiler both consume (so they cannot disagree about what a filter
//! means).
//!
//! Every problem is a 400 `invalidFilter` whose detail names the
//! attribute or clause at fault.

use chrono::{DateTime, SecondsFormat, Utc};

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use crate::error::{ScimError, ScimResult};
use crate::schema::{AttrDef, AttrScope, AttrType, ResolvedAttr, ResourceKind, ResourceTypeDef};

/// A resolved attribute reference.
#[derive(Clone, Copy, Debug)]
pub struct BoundAttr {
    /// `attr` plus optional `sub`. Comparisons on a multi-valued complex
    /// attribute without a sub-attribute (`emails eq "x"`) are bound to
    /// its `value` sub-attribute.
    pub resolved: ResolvedAttr,
    /// Inside `attr[...]` (or a PATCH value filter): `resolved.sub` is read
    /// from the current element of `resolved.attr`, not from the resource.
    pub relative: bool,
}

impl BoundAttr {
    /// The definition compared against (sub-attribute if any).
    pub fn leaf(&self) -> &'static AttrDef {
        self.resolved.leaf()
    }
}

/// A type-checked comparison value.
#[derive(Clone, Debug, PartialEq)]
pub enum BoundValue {
    /// For string, reference and binary attributes.
    String(String),
    Bool(bool),
    /// For dateTime attributes; normalised to UTC, whole microseconds
    /// (Postgres `timestamptz` precision) and years 1–9999.
    DateTime(DateTime<Utc>),
    /// For integer and decimal attributes (finite).
    Number(serde_json::Number),
}

impl BoundValue {
    /// The text a SQL parameter carries for this value.
    pub fn param_text(&self) -> String {
        match self {
            BoundValue::String(s) => s.clone(),
            BoundValue::Bool(b) => b.to_string(),
            BoundValue::DateTime(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            BoundValue::Number(n) => n.to_string(),
        }
    }
}

/// A filter resolved against a resource type.
#[derive(Clone, Debug)]
pub enum BoundFilter {
    Compare {
        attr: BoundAttr,
        op: CompareOp,
        value: BoundValue,
    },
    /// `pr`; also what `ne null` means (and `eq null` is `not pr`).
    Present(BoundAttr),
    And(Vec<BoundFilter>),
    Or(Vec<BoundFilter>),
    Not(Box<BoundFilter>),
    /// `attr[filter]`: some element (value) of the complex attribute `attr`
    /// satisfies `filter`, whose attributes are all `relative`.
    ValuePath {
        attr: ResolvedAttr,
        filter: Box<BoundFilter>,
    },
}

fn err(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_filter(detail.into())
}

/// Parse a dateTime literal (RFC 3339 / xsd:dateTime with an offset).
pub(crate) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    // Round down to microseconds the way both paths see it (the SQL
    // parameter is this normalised text, so Postgres never rounds).
    let micros = t.timestamp_micros();
    DateTime::<Utc>::from_timestamp_micros(micros)
}

fn datetime_literal(s: &str, path: &str) -> ScimResult<DateTime<Utc>> {
    let t = parse_datetime(s).ok_or_else(|| {
        err(format!(
            "'{path}' is a dateTime; \"{s}\" is not an RFC 3339 date-time (e.g. \"2024-01-31T12:00:00Z\")"
        ))
    })?;
    let year = chrono::Datelike::year(&t);
    if !(1..=9999).contains(&year) {
        return Err(err(format!(
            "dateTime value \"{s}\" for '{path}' is out of range (years 1 to 9999)"
        )));
    }
    Ok(t)
}

struct Binder<'a> {
    rt: &'a ResourceTypeDef,
}

impl Binder<'_> {
    /// Resolve a path at the top level, or relative to `parent` inside
    /// `parent[...]`.
    fn resolve(&self, path: &AttrPath, parent: Option<&ResolvedAttr>) -> ScimResult<BoundAttr> {
        match parent {
            None => {
                let text = path.to_string();
                let resolved = self.rt.resolve(&text).ok_or_else(|| {
                    err(format!(
                        "unknown attribute '{text}' for resource type {}",
                        self.rt.name
                    ))
                })?;
                Ok(BoundAttr {
                    resolved,
                    relative: false,
                })
            }
            Some(p) => {
                let outer = p.canonical_path();
                if path.urn.is_some() || path.sub.is_some() {
                    return Err(err(format!(
                        "'{path}' inside '{outer}[...]' must be a sub-attribute name of {outer}"
                    )));
                }
                let sub = p.attr.sub(&path.name).ok_or_else(|| {
                    err(format!(
                        "unknown sub-attribute '{}' of '{outer}'",
                        path.name
                    ))
                })?;
                Ok(BoundAttr {
                    resolved: ResolvedAttr {
                        scope: p.scope,
                        attr: p.attr,
                        sub: Some(sub),
                    },
                    relative: true,
                })
            }
        }
    }

    /// Attributes that exist but cannot be filtered on.
    fn check_filterable(&self, a: &ResolvedAttr) -> ScimResult<()> {
        let path = a.canonical_path();
        let leaf = a.leaf();
        let no = |why: &str| Err(err(format!("'{path}' cannot be used in a filter: {why}")));
        if a.attr.returned == crate::schema::Returned::Never
            || leaf.returned == crate::schema::Returned::Never
        {
            return no("it is never returned");
        }
        if a.scope == AttrScope::Common && a.attr.name == "meta" {
            if let Some(sub) = a.sub {
                if sub.name == "location" {
                    return no("meta.location is derived from the request's base URL");
                }
            }
        }
        let derived_ref = matches!(
            (self.rt.kind, a.attr.name, a.sub.map(|s| s.name)),
            (ResourceKind::Group, "members", Some("$ref"))
                | (ResourceKind::User, "groups", Some("$ref"))
        );
        if derived_ref {
            return no("$ref is derived from the request's base URL; filter on value instead");
        }
        if self.rt.kind == ResourceKind::User
            && a.scope == AttrScope::Core
            && a.attr.name == "groups"
            && a.sub.is_some_and(|s| s.name == "type")
        {
            return no("group membership type is not stored; filter on groups.value");
        }
        match leaf.ty {
            AttrType::DateTime if !(a.scope == AttrScope::Common && a.attr.name == "meta") => {
                return no("only meta.created and meta.lastModified support dateTime filters")
            }
            _ => {}
        }
        Ok(())
    }

    fn bind(&self, f: &Filter, parent: Option<&ResolvedAttr>) -> ScimResult<BoundFilter> {
        Ok(match f {
            Filter::And(items) => BoundFilter::And(
                items
                    .iter()
                    .map(|i| self.bind(i, parent))
                    .collect::<ScimResult<_>>()?,
            ),
            Filter::Or(items) => BoundFilter::Or(
                items
                    .iter()
                    .map(|i| self.bind(i, parent))
                    .collect::<ScimResult<_>>()?,
            ),
            Filter::Not(inner) => BoundFilter::Not(Box::new(self.bind(inner, parent)?)),
            Filter::Present(path) => {
                let a = self.resolve(path, parent)?;
                self.check_filterable(&a.resolved)?;
                BoundFilter::Present(a)
            }
            Filter::Compare { path, op, value } => self.bind_compare(path, *op, value, parent)?,
            Filter::ValuePath { path, filter } => {
                if let Some(p) = parent {
                    return Err(err(format!(
                        "'{path}[...]' cannot be nested inside '{}[...]'",
                        p.canonical_path()
                    )));
                }
                let a = self.resolve(path, None)?.resolved;
                if a.sub.is_some() || a.attr.ty != AttrType::Complex {
                    return Err(err(format!(
                        "'{path}[...]': a value filter needs a complex attribute, and '{}' is not one",
                        a.canonical_path()
                    )));
                }
                self.check_filterable(&a)?;
                BoundFilter::ValuePath {
                    attr: a,
                    filter: Box::new(self.bind(filter, Some(&a))?),
                }
            }
        })
    }

    fn bind_compare(
        &self,
        path: &AttrPath,
        op: CompareOp,
        value: &CompValue,
        parent: Option<&ResolvedAttr>,
    ) -> ScimResult<BoundFilter> {
        let mut a = self.resolve(path, parent)?;
        let written = format!("{path} {op} {value}");
        if a.resolved.sub.is_none() && a.resolved.attr.ty == AttrType::Complex {
            // `emails eq "x"` compares the `value` sub-attribute.
            match a.resolved.attr.sub("value") {
                Some(v) if a.resolved.attr.multi_valued => a.resolved.sub = Some(v),
                _ => {
                    return Err(err(format!(
                        "'{written}': '{}' is a complex attribute; compare one of its sub-attributes (e.g. '{}.{}')",
                        a.resolved.canonical_path(),
                        a.resolved.canonical_path(),
                        a.resolved
                            .attr
                            .sub_attributes
                            .first()
                            .map_or("value", |s| s.name)
                    )))
                }
            }
        }
        self.check_filterable(&a.resolved)?;
        let canon = a.resolved.canonical_path();
        let leaf = a.leaf();
        // RFC 7643 §2.5: null and unassigned are the same state.
        if *value == CompValue::Null {
            return match op {
                CompareOp::Eq => Ok(BoundFilter::Not(Box::new(BoundFilter::Present(a)))),
                CompareOp::Ne => Ok(BoundFilter::Present(a)),
                _ => Err(err(format!(
                    "'{written}': null can only be compared with eq or ne"
                ))),
            };
        }
        let mismatch = |expected: &str| {
            Err(err(format!(
                "'{written}': type mismatch, '{canon}' is {} and needs {expected}",
                leaf.ty.as_str()
            )))
        };
        let bound = match leaf.ty {
            AttrType::String | AttrType::Reference | AttrType::Binary => {
                let CompValue::String(s) = value else {
                    return mismatch("a string value");
                };
                if leaf.ty == AttrType::Binary && op.is_ordering() {
                    return Err(err(format!(
                        "'{written}': {op} is not supported for binary attribute '{canon}'"
                    )));
                }
                BoundValue::String(s.clone())
            }
            AttrType::Boolean => {
                let CompValue::Bool(b) = value else {
                    return mismatch("true or false");
                };
                if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                    return Err(err(format!(
                        "'{written}': {op} is not supported for boolean attribute '{canon}' (only eq, ne, pr)"
                    )));
                }
                BoundValue::Bool(*b)
            }
            AttrType::DateTime => {
                let CompValue::String(s) = value else {
                    return mismatch("a date-time string");
                };
                if op.is_substring() {
                    return Err(err(format!(
                        "'{written}': {op} is not supported for dateTime attribute '{canon}' (use eq, ne, gt, ge, lt, le)"
                    )));
                }
                BoundValue::DateTime(datetime_literal(s, &canon)?)
            }
            AttrType::Integer | AttrType::Decimal => {
                let CompValue::Number(n) = value else {
                    return mismatch("a number");
                };
                if op.is_substring() {
                    return Err(err(format!(
                        "'{written}': {op} is not supported for numeric attribute '{canon}' (use eq, ne, gt, ge, lt, le)"
                    )));
                }
                if n.as_f64().is_none_or(|f| !f.is_finite()) {
                    return mismatch("a finite number");
                }
                BoundValue::Number(n.clone())
            }
            // Handled above.
            AttrType::Complex => {
                return Err(err(format!("'{written}': cannot compare '{canon}'")));
            }
        };
        // `ne` is `not (… eq …)`: a resource without the attribute (or a
        // multi-valued one with no equal value) matches `attr ne "x"`.
        let op_bound = if op == CompareOp::Ne {
            CompareOp::Eq
        } else {
            op
        };
        let cmp = BoundFilter::Compare {
            attr: a,
            op: op_bound,
            value: bound,
        };
        Ok(if op == CompareOp::Ne {
            BoundFilter::Not(Box::new(cmp))
        } else {
            cmp
        })
    }
}

/// Resolve and type-check a filter against `rt`.
pub fn bind(rt: &ResourceTypeDef, f: &Filter) -> ScimResult<BoundFilter> {
    Binder { rt }.bind(f, None)
}

/// Resolve a value filter (from `attr[<filter>]` in a PATCH path) whose
/// attribute names are sub-attributes of the complex attribute `parent`.
pub fn bind_value_filter(
    rt: &ResourceTypeDef,
    parent: &ResolvedAttr,
    f: &Filter,
) -> ScimResult<BoundFilter> {
    if parent.sub.is_some() || parent.attr.ty != AttrType::Complex {
        return Err(err(format!(
            "a value filter needs a complex attribute, and '{}' is not one",
            parent.canonical_path()
        )));
    }
    Binder { rt }.bind(f, Some(parent))
}
