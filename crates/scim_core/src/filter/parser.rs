//! Filter text → [`Filter`] (syntax only; names are resolved by `bind`).
//!
//! Grammar (RFC 7644 §3.4.2.2, Figure 1), with `and` binding tighter than
//! `or`:
//!
//! ```text
//! filter    = and *( "or" and )
//! and       = unary *( "and" unary )
//! unary     = "not" "(" filter ")" / "(" filter ")" / attrExp / valuePath
//! attrExp   = attrPath SP "pr" / attrPath SP compareOp SP compValue
//! valuePath = attrPath "[" valFilter "]" [ "." subAttr SP ( "pr" / compareOp SP compValue ) ]
//! attrPath  = [URI ":"] ATTRNAME ["." ATTRNAME]
//! ```
//!
//! Keywords, operators and literals `true`/`false`/`null` are
//! case-insensitive. Whitespace is any run of ASCII whitespace. The
//! trailing `.sub op value` after a bracket is Entra ID's shape and is
//! folded into the bracket as one more `and` clause.
//!
//! Everything that is not a complete filter is an error: trailing
//! input, unbalanced `(`/`[`, `[` inside `[...]`, a missing value. The
//! recursion depth and the input length are capped so hostile input
//! cannot exhaust the stack.

use nom::{
    branch::alt,
    bytes::complete::{tag, tag_no_case, take_while, take_while1},
    character::complete::{char, digit1, multispace0, multispace1, one_of},
    combinator::{opt, recognize},
    error::{ErrorKind, ParseError},
    sequence::{pair, preceded, tuple},
    IResult,
};

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use crate::error::{ScimError, ScimResult};

/// Maximum nesting of `(`, `not (` and `[`.
pub const MAX_DEPTH: usize = 64;
/// Maximum filter length in characters.
pub const MAX_LEN: usize = 10_000;

/// Parse error: where (the remaining input) and what was expected.
#[derive(Debug)]
pub(crate) struct PErr<'a> {
    at: &'a str,
    msg: String,
}

impl<'a> ParseError<&'a str> for PErr<'a> {
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        PErr {
            at: input,
            msg: "unexpected input".into(),
        }
    }
    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }
    fn or(self, other: Self) -> Self {
        // Keep whichever alternative got further.
        if other.at.len() < self.at.len() {
            other
        } else {
            self
        }
    }
}

type Res<'a, T> = IResult<&'a str, T, PErr<'a>>;

fn fail<'a, T>(at: &'a str, msg: impl Into<String>) -> Res<'a, T> {
    Err(nom::Err::Failure(PErr {
        at,
        msg: msg.into(),
    }))
}

/// Turn a recoverable error into a fatal one with a better message.
fn or_fail<'a, T>(r: Res<'a, T>, at: &'a str, msg: &str) -> Res<'a, T> {
    match r {
        Err(nom::Err::Error(_)) => fail(at, msg),
        other => other,
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$'
}

/// True when `i` does not continue a word (so `prand` is not `pr`).
fn at_boundary(i: &str) -> bool {
    !i.starts_with(|c: char| is_name_char(c) || c == '.')
}

/// A keyword (`and`, `or`, `not`) after optional whitespace, followed by
/// a word boundary.
fn keyword<'a>(kw: &'static str) -> impl FnMut(&'a str) -> Res<'a, &'a str> {
    move |i: &'a str| {
        let (rest, word) = preceded(multispace0, tag_no_case(kw))(i)?;
        if !at_boundary(rest) {
            return Err(nom::Err::Error(PErr::from_error_kind(i, ErrorKind::Tag)));
        }
        Ok((rest, word))
    }
}

/// `ATTRNAME = ALPHA *(nameChar)`; `$ref` is accepted too.
fn attr_name(i: &str) -> Res<'_, &str> {
    recognize(pair(
        alt((
            recognize(pair(char('$'), one_of_alpha)),
            recognize(one_of_alpha),
        )),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
    ))(i)
}

fn one_of_alpha(i: &str) -> Res<'_, char> {
    match i.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => Ok((&i[1..], c)),
        _ => Err(nom::Err::Error(PErr::from_error_kind(i, ErrorKind::Alpha))),
    }
}

/// `name[.sub]`, the whole of `s` (used on the tail of a URN path).
fn name_and_sub(s: &str) -> Option<(String, Option<String>)> {
    let (rest, name) = attr_name(s).ok()?;
    if rest.is_empty() {
        return Some((name.to_string(), None));
    }
    let rest = rest.strip_prefix('.')?;
    let (rest, sub) = attr_name(rest).ok()?;
    rest.is_empty()
        .then(|| (name.to_string(), Some(sub.to_string())))
}

/// `[urn:…:]attr[.sub]`
fn attr_path(i: &str) -> Res<'_, AttrPath> {
    if i.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        let (rest, token) = take_while1(|c: char| {
            c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-' | '$')
        })(i)?;
        let bad = || {
            fail(
                i,
                "invalid attribute path: expected urn:<schema>:<attribute>",
            )
        };
        let Some(colon) = token.rfind(':') else {
            return bad();
        };
        let (urn, tail) = (&token[..colon], &token[colon + 1..]);
        if urn.len() <= 4 || urn.ends_with(':') {
            return bad();
        }
        let Some((name, sub)) = name_and_sub(tail) else {
            return bad();
        };
        return Ok((
            rest,
            AttrPath {
                urn: Some(urn.to_string()),
                name,
                sub,
            },
        ));
    }
    let (rest, name) = attr_name(i)?;
    let (rest, sub) = opt(preceded(char('.'), attr_name))(rest)?;
    if rest.starts_with('.') {
        let msg = if sub.is_some() {
            "invalid attribute path: at most one '.' sub-attribute"
        } else {
            "invalid attribute path: expected a sub-attribute name after '.'"
        };
        return fail(rest, msg);
    }
    Ok((
        rest,
        AttrPath {
            urn: None,
            name: name.to_string(),
            sub: sub.map(str::to_string),
        },
    ))
}

/// A JSON string literal with every JSON escape; decoded by serde_json.
fn string_lit(i: &str) -> Res<'_, String> {
    let Some(body) = i.strip_prefix('"') else {
        return Err(nom::Err::Error(PErr::from_error_kind(i, ErrorKind::Char)));
    };
    let mut escaped = false;
    let mut end = None;
    for (pos, c) in body.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            end = Some(pos);
            break;
        } else if (c as u32) < 0x20 {
            return fail(
                &body[pos..],
                "control characters must be escaped in a string value",
            );
        }
    }
    let Some(end) = end else {
        return fail(i, "unterminated string value");
    };
    let literal = &i[..end + 2];
    match serde_json::from_str::<String>(literal) {
        Ok(s) if s.contains('\0') => fail(i, "string value must not contain U+0000"),
        Ok(s) => Ok((&i[end + 2..], s)),
        Err(e) => fail(i, format!("invalid string value: {e}")),
    }
}

/// A JSON number.
fn number_lit(i: &str) -> Res<'_, serde_json::Number> {
    let (rest, text) = recognize(tuple((
        opt(char('-')),
        alt((tag("0"), digit1)),
        opt(pair(char('.'), digit1)),
        opt(tuple((one_of("eE"), opt(one_of("+-")), digit1))),
    )))(i)?;
    // `01`, `1.`, `1x` …
    if !at_boundary(rest)
        || (text.trim_start_matches('-').starts_with("0")
            && rest.starts_with(|c: char| c.is_ascii_digit()))
    {
        return fail(i, "invalid number value");
    }
    // Rust's float parsing is correctly rounded, so printed numbers
    // re-parse to the same value.
    let n = if text.contains(['.', 'e', 'E']) {
        None
    } else if let Ok(u) = text.parse::<u64>() {
        Some(serde_json::Number::from(u))
    } else {
        text.parse::<i64>().ok().map(serde_json::Number::from)
    };
    match n.or_else(|| {
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
    }) {
        Some(n) => Ok((rest, n)),
        None => fail(i, "number value out of range"),
    }
}

/// `compValue = false / null / true / number / string`
fn comp_value(i: &str) -> Res<'_, CompValue> {
    if i.starts_with('"') {
        let (rest, s) = string_lit(i)?;
        return Ok((rest, CompValue::String(s)));
    }
    if i.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        let (rest, n) = number_lit(i)?;
        return Ok((rest, CompValue::Number(n)));
    }
    let (rest, word) = take_while1(|c: char| c.is_ascii_alphabetic())(i)?;
    if !at_boundary(rest) {
        return Err(nom::Err::Error(PErr::from_error_kind(i, ErrorKind::Tag)));
    }
    let v = if word.eq_ignore_ascii_case("true") {
        CompValue::Bool(true)
    } else if word.eq_ignore_ascii_case("false") {
        CompValue::Bool(false)
    } else if word.eq_ignore_ascii_case("null") {
        CompValue::Null
    } else {
        return Err(nom::Err::Error(PErr::from_error_kind(i, ErrorKind::Tag)));
    };
    Ok((rest, v))
}

enum OpOrPr {
    Op(CompareOp),
    Pr,
}

/// `SP ("pr" / compareOp SP compValue)` after an attribute path.
fn operator_tail<'a>(i: &'a str, path: &AttrPath) -> Res<'a, OpOrPr> {
    let expected =
        format!("expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after '{path}'");
    let (i, _) = or_fail(multispace1(i), i, &expected)?;
    let (rest, word) = or_fail(
        take_while1(|c: char| c.is_ascii_alphabetic())(i),
        i,
        &expected,
    )?;
    if !at_boundary(rest) {
        return fail(i, expected);
    }
    if word.eq_ignore_ascii_case("pr") {
        return Ok((rest, OpOrPr::Pr));
    }
    match CompareOp::parse(word) {
        Some(op) => Ok((rest, OpOrPr::Op(op))),
        None => fail(i, expected),
    }
}

fn build(path: AttrPath, op: OpOrPr, value: Option<CompValue>) -> Filter {
    match (op, value) {
        (OpOrPr::Op(op), Some(value)) => Filter::Compare { path, op, value },
        _ => Filter::Present(path),
    }
}

/// Operator, then the value unless the operator is `pr`.
fn comparison<'a>(i: &'a str, path: AttrPath) -> Res<'a, Filter> {
    let (i, op) = operator_tail(i, &path)?;
    if let OpOrPr::Op(o) = op {
        let (i, _) = multispace0(i)?;
        let msg =
            format!("expected a value (string, number, true, false or null) after '{path} {o}'");
        let (i, v) = or_fail(comp_value(i), i, &msg)?;
        Ok((i, build(path, op, Some(v))))
    } else {
        Ok((i, build(path, op, None)))
    }
}

struct Ctx {
    /// Inside `[...]` (or a PATCH value filter): no further brackets.
    in_brackets: bool,
}

fn or_expr<'a>(i: &'a str, depth: usize, ctx: &Ctx) -> Res<'a, Filter> {
    joined(i, depth, ctx, "or", and_expr, Filter::Or)
}

fn and_expr<'a>(i: &'a str, depth: usize, ctx: &Ctx) -> Res<'a, Filter> {
    joined(i, depth, ctx, "and", unary, Filter::And)
}

/// `operand (word operand)*`, n-ary; a single operand stands alone.
fn joined<'a>(
    i: &'a str,
    depth: usize,
    ctx: &Ctx,
    word: &'static str,
    operand: fn(&'a str, usize, &Ctx) -> Res<'a, Filter>,
    combine: fn(Vec<Filter>) -> Filter,
) -> Res<'a, Filter> {
    let (mut i, first) = operand(i, depth, ctx)?;
    let mut items = vec![first];
    while let Ok((rest, _)) = keyword(word)(i) {
        let (rest, next) = or_fail(
            operand(rest, depth, ctx),
            rest,
            &format!("expected a filter after '{word}'"),
        )?;
        items.push(next);
        i = rest;
    }
    let f = if items.len() == 1 {
        items.pop().expect("one item")
    } else {
        combine(items)
    };
    Ok((i, f))
}

/// `filter ")"` after an opening parenthesis.
fn group<'a>(i: &'a str, depth: usize, ctx: &Ctx, open: &'a str) -> Res<'a, Filter> {
    if depth >= MAX_DEPTH {
        return fail(
            open,
            format!("filter is nested more than {MAX_DEPTH} levels deep"),
        );
    }
    let (i, inner) = or_fail(or_expr(i, depth + 1, ctx), i, "expected a filter after '('")?;
    let (i, _) = multispace0(i)?;
    let (i, _) = or_fail(char(')')(i), i, "expected ')'")?;
    Ok((i, inner))
}

fn unary<'a>(i: &'a str, depth: usize, ctx: &Ctx) -> Res<'a, Filter> {
    let (i, _) = multispace0(i)?;
    if let Ok((rest, _)) = keyword("not")(i) {
        let (rest, _) = multispace0(rest)?;
        let (rest, _) = or_fail(char('(')(rest), rest, "expected '(' after 'not'")?;
        let (rest, inner) = group(rest, depth, ctx, i)?;
        return Ok((rest, Filter::Not(Box::new(inner))));
    }
    if let Some(rest) = i.strip_prefix('(') {
        return group(rest, depth, ctx, i);
    }
    atom(i, depth, ctx)
}

/// `attrExp` or `valuePath`.
fn atom<'a>(i: &'a str, depth: usize, ctx: &Ctx) -> Res<'a, Filter> {
    let (rest, path) = attr_path(i)?;
    let Some(inner_start) = rest.strip_prefix('[') else {
        return comparison(rest, path);
    };
    if ctx.in_brackets {
        return fail(rest, "'[' is not allowed inside a value filter '[...]'");
    }
    if depth >= MAX_DEPTH {
        return fail(
            rest,
            format!("filter is nested more than {MAX_DEPTH} levels deep"),
        );
    }
    let inner_ctx = Ctx { in_brackets: true };
    let (after, inner) = or_fail(
        or_expr(inner_start, depth + 1, &inner_ctx),
        inner_start,
        "expected a filter after '['",
    )?;
    let (after, _) = multispace0(after)?;
    let (after, _) = or_fail(char(']')(after), after, "expected ']'")?;
    // Entra: `emails[type eq "work"].value eq "x"`
    if let Some(sub_start) = after.strip_prefix('.') {
        let (after, sub) = or_fail(
            attr_name(sub_start),
            sub_start,
            "expected a sub-attribute name after ']. '",
        )?;
        let (after, clause) = comparison(after, AttrPath::simple(sub))?;
        let mut items = match inner {
            Filter::And(items) => items,
            other => vec![other],
        };
        items.push(clause);
        return Ok((
            after,
            Filter::ValuePath {
                path,
                filter: Box::new(Filter::And(items)),
            },
        ));
    }
    Ok((
        after,
        Filter::ValuePath {
            path,
            filter: Box::new(inner),
        },
    ))
}

fn error_at(input: &str, at: &str, msg: &str) -> ScimError {
    let offset = input.len().saturating_sub(at.len());
    let pos = input[..offset].chars().count() + 1;
    let near: String = at.chars().take(20).collect();
    if near.is_empty() {
        ScimError::invalid_filter(format!("invalid filter: {msg} at end of filter"))
    } else {
        ScimError::invalid_filter(format!(
            "invalid filter: {msg} at position {pos} (near '{near}')"
        ))
    }
}

/// Parse a whole filter; `in_brackets` for PATCH value filters.
pub(crate) fn parse_filter(input: &str, in_brackets: bool) -> ScimResult<Filter> {
    let len = input.chars().count();
    if len > MAX_LEN {
        return Err(ScimError::invalid_filter(format!(
            "filter is too long ({len} characters, at most {MAX_LEN})"
        )));
    }
    if input.trim().is_empty() {
        return Err(ScimError::invalid_filter("filter is empty"));
    }
    let ctx = Ctx { in_brackets };
    match or_expr(input, 0, &ctx) {
        Ok((rest, f)) => {
            let rest = rest.trim_start();
            if rest.is_empty() {
                Ok(f)
            } else if rest.starts_with(')') {
                Err(error_at(input, rest, "unbalanced ')'"))
            } else if rest.starts_with(']') {
                Err(error_at(input, rest, "unbalanced ']'"))
            } else {
                Err(error_at(
                    input,
                    rest,
                    "unexpected input after a complete filter (expected 'and', 'or' or the end)",
                ))
            }
        }
        Err(nom::Err::Error(e)) => {
            let msg = if e.msg == "unexpected input" {
                "expected an attribute name, '(' or 'not'"
            } else {
                &e.msg
            };
            Err(error_at(input, e.at, msg))
        }
        Err(nom::Err::Failure(e)) => Err(error_at(input, e.at, &e.msg)),
        Err(nom::Err::Incomplete(_)) => {
            Err(ScimError::invalid_filter("invalid filter: incomplete"))
        }
    }
}
