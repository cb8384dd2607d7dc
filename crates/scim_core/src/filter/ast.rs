//! Syntax tree of a SCIM filter (RFC 7644 §3.4.2.2), as written by the
//! client: attribute names are not resolved yet (see [`super::bind`]).
//!
//! `Display` prints a filter back in canonical text form; printing and
//! re-parsing gives the same tree.

use std::fmt;

/// An attribute path as written: `[urn:…:]attr[.sub]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrPath {
    /// Schema URN prefix without the trailing `:` (e.g.
    /// `urn:ietf:params:scim:schemas:core:2.0:User`), as written.
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// A bare attribute name, no URN, no sub-attribute.
    pub fn simple(name: impl Into<String>) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Comparison operators. `pr` is not one of them: it is [`Filter::Present`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Case-insensitive lookup (`Eq`, `EQ`, `eq`).
    pub fn parse(word: &str) -> Option<CompareOp> {
        CompareOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// `gt`, `ge`, `lt`, `le`.
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    /// `co`, `sw`, `ew`.
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison literal (`compValue`): JSON string, number, `true`,
/// `false` or `null`. Date-times are strings until bound.
#[derive(Clone, Debug, PartialEq)]
pub enum CompValue {
    String(String),
    Number(serde_json::Number),
    Bool(bool),
    Null,
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // serde_json escapes exactly what JSON requires; the parser
            // decodes every JSON escape, so this round-trips.
            CompValue::String(s) => f.write_str(&serde_json::to_string(s).map_err(|_| fmt::Error)?),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

/// A parsed filter.
///
/// `And`/`Or` are n-ary (a chain `a and b and c` is one node with three
/// children, which keeps long chains from building deep trees); they
/// always have at least two children. Parentheses produce no node of
/// their own, so `(a and b) and c` is `And[And[a, b], c]`.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// `path op value`
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `path pr`
    Present(AttrPath),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    /// `not (filter)`
    Not(Box<Filter>),
    /// `path[filter]`: one value of the (complex) attribute `path`
    /// satisfies `filter`, whose attribute names are relative to `path`.
    /// Entra's `emails[type eq "work"].value eq "x"` is parsed to
    /// `emails[type eq "work" and value eq "x"]`.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

impl Filter {
    /// Nesting depth (a leaf is 1).
    pub fn depth(&self) -> usize {
        match self {
            Filter::Compare { .. } | Filter::Present(_) => 1,
            Filter::And(v) | Filter::Or(v) => 1 + v.iter().map(Filter::depth).max().unwrap_or(0),
            Filter::Not(f) | Filter::ValuePath { filter: f, .. } => 1 + f.depth(),
        }
    }
}

fn write_child(f: &mut fmt::Formatter<'_>, child: &Filter, parent_is_and: bool) -> fmt::Result {
    // `and` binds tighter than `or`: an `and` inside an `or` needs no
    // parentheses; every other nested chain keeps its own.
    let parens = match child {
        Filter::Or(_) => true,
        Filter::And(_) => parent_is_and,
        _ => false,
    };
    if parens {
        write!(f, "({child})")
    } else {
        write!(f, "{child}")
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(items) | Filter::Or(items) => {
                let is_and = matches!(self, Filter::And(_));
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(if is_and { " and " } else { " or " })?;
                    }
                    write_child(f, item, is_and)?;
                }
                Ok(())
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}
