//! Filter engine (RFC 7644 §3.4.2.2): parser, evaluator, SQL compiler.
//!
//! Pipeline: [`parse`] (text → [`Filter`], syntax only) → [`bind`]
//! (resolve names against a [`ResourceTypeDef`], type-check →
//! [`BoundFilter`]) → either [`eval`] (in memory, on a resource's JSON) or
//! [`compile_bound`] (SQL over `scim.users` / `scim.groups`). Both back
//! ends consume the same bound filter and implement the same rules:
//!
//! * **Errors.** Anything that is not a complete, well-typed filter is 400
//!   `invalidFilter` with a detail naming the problem (position for
//!   syntax errors, attribute for unknown names and type errors). No
//!   clause is ever dropped. Filters are capped at [`MAX_LEN`] characters
//!   and [`MAX_DEPTH`] levels of `(`, `not (` and `[`.
//! * **Case.** Operators, `and`/`or`/`not`, `true`/`false`/`null` and
//!   attribute names are case-insensitive. String comparisons follow the
//!   attribute's `caseExact`: case-insensitive ones compare
//!   [`fold_case`]d values (the same Rust function as `scim.fold()` in
//!   SQL, so both agree in every database locale; see
//!   [`crate::casefold`]).
//! * **Operators.** `co`/`sw`/`ew` are substring/prefix/suffix (`LIKE`
//!   with `\`, `%`, `_` escaped). `gt`/`ge`/`lt`/`le` compare strings by
//!   bytes (`COLLATE "C"`) and dateTimes as instants; they are rejected
//!   for booleans, binaries and complex attributes. Booleans take only
//!   `eq`/`ne`/`pr`; dateTimes take no `co`/`sw`/`ew`. A literal of the
//!   wrong type (`active eq "yes"`, `userName eq 1`) and a dateTime
//!   literal that is not RFC 3339 are errors.
//! * **`pr`** is "present and non-empty": not missing, not JSON `null`,
//!   not `""`, `[]` or `{}`.
//! * **Missing attributes.** Every comparison on a missing attribute (or
//!   a value of the wrong JSON type) is false; `not (…)` is plain
//!   negation. Generated SQL leaves never yield NULL.
//! * **`ne`** is bound as `not (… eq …)` (what the UnboundID/Ping SDK
//!   and python-scim do): a resource without the attribute matches
//!   `attr ne "x"`, and a multi-valued attribute matches when no value
//!   equals `"x"` (`emails.value ne "x"`). Inside brackets it applies
//!   per element (`emails[type ne "work"]` matches an element without
//!   `type`).
//! * **`null` literal.** RFC 7643 §2.5 makes null and unassigned the same
//!   state, so `attr eq null` ≡ `not (attr pr)` (true when missing) and
//!   `attr ne null` ≡ `attr pr`; other operators with `null` are errors.
//! * **Multi-valued attributes.** `emails.value eq "x"` is true if any
//!   element matches; `emails eq "x"` means `emails.value eq "x"`
//!   (comparing a complex attribute without a `value` sub-attribute, like
//!   `name eq "x"`, is an error; `emails pr` means a non-empty array).
//!   `emails[type eq "work" and value co "@x"]` means one element
//!   satisfies the whole inner filter; inside brackets names are
//!   sub-attributes. Entra's `emails[type eq "work"].value eq "x"` is the
//!   same as `emails[type eq "work" and value eq "x"]`. Brackets also
//!   work on single-valued complex attributes (`name[givenName eq "x"]`).
//!   Brackets do not nest.
//! * **Not filterable** (400 `invalidFilter`): `password`,
//!   `meta.location`, `members.$ref`, `groups.$ref` (derived from the
//!   base URL), `groups.type` (not stored).
//! * **Group membership.** `members.value`, `members.type`,
//!   `members.display` (Group) and `groups.value`, `groups.display`
//!   (User, direct memberships) are answered from `scim.members`;
//!   `display` joins `scim.users`/`scim.groups` with
//!   [`MEMBER_DISPLAY_SQL`] (a user's displayName, else its userName; a
//!   group's displayName). The resource JSON must render `display` by the
//!   same rule for [`eval`] to agree.
//! * **ids.** `id`, `members.value` and `groups.value` are uuid columns:
//!   `eq`/`ne` with a literal that is not a canonical lowercase uuid
//!   matches nothing / every present value, without any cast.
//!
//! Recursion in [`bind`], [`eval`] and the compiler follows the tree,
//! whose depth [`parse`] bounds; `and`/`or` chains are flat lists.
//!
//! Agreement of [`eval`] and the SQL is checked by `tests_pg.rs`, which
//! writes a psql script comparing both over a fixture (see its docs).
//!
//! Assumptions shared with storage: the JSON has canonical attribute
//! names ([`eval`] also accepts other casings); promoted columns equal
//! the JSON they shadow; `email_values` holds [`fold_case`] of every string
//! `emails[].value`; stored values have their schema types (a JSON value
//! of another type never matches in either path).

pub mod ast;
mod bind;
mod eval;
mod parser;
mod sql;

pub use crate::casefold::fold_case;
pub use ast::{AttrPath, CompValue, CompareOp, Filter};
pub use bind::{bind, bind_value_filter, BoundAttr, BoundFilter, BoundValue};
pub use eval::{eval, eval_value_filter, is_present};
pub use parser::{MAX_DEPTH, MAX_LEN};
pub use sql::{
    compile_bound, compile_sort_key, extension_text, extension_value, is_canonical_uuid,
    like_pattern, CompiledFilter, FOLD_SQL, GROUP_LAST_MODIFIED_SQL, GROUP_VERSION_SQL,
    MEMBER_DISPLAY_JOINS, MEMBER_DISPLAY_SQL,
};

use crate::error::{ScimError, ScimResult};
use crate::schema::ResourceTypeDef;
use serde_json::Value;

/// Parse a filter (syntax only; see [`bind`] for names and types).
pub fn parse(input: &str) -> ScimResult<Filter> {
    parser::parse_filter(input, false)
}

/// Parse the filter inside a PATCH path `attr[<filter>]`: the same
/// grammar, without brackets; names are relative to `attr` (bind with
/// [`bind_value_filter`]).
pub fn parse_value_filter(input: &str) -> ScimResult<Filter> {
    parser::parse_filter(input, true)
}

/// Parse, bind and evaluate `filter` against a resource's JSON.
pub fn matches(rt: &ResourceTypeDef, resource: &Value, filter: &str) -> ScimResult<bool> {
    let f = bind(rt, &parse(filter)?)?;
    Ok(eval(&f, resource))
}

/// Parse, bind and evaluate a value filter against one element of the
/// complex attribute `attr_path` (e.g. `emails`, `members`).
pub fn matches_value(
    rt: &ResourceTypeDef,
    attr_path: &str,
    element: &Value,
    filter: &str,
) -> ScimResult<bool> {
    let parent = rt.resolve(attr_path).ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "unknown attribute '{attr_path}' for resource type {}",
            rt.name
        ))
    })?;
    let f = bind_value_filter(rt, &parent, &parse_value_filter(filter)?)?;
    Ok(eval_value_filter(&f, element))
}

/// Parse, bind and compile `filter` to a boolean SQL expression over
/// alias `r`; placeholders start at `$first_param`.
pub fn compile(
    rt: &ResourceTypeDef,
    filter: &str,
    first_param: usize,
) -> ScimResult<CompiledFilter> {
    let f = bind(rt, &parse(filter)?)?;
    compile_bound(rt, &f, first_param)
}

#[cfg(test)]
mod tests_eval;
#[cfg(test)]
mod tests_parse;
#[cfg(test)]
mod tests_pg;
#[cfg(test)]
mod tests_sql;
