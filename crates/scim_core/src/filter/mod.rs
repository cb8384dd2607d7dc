//! Filter engine (RFC 7644 §3.4.2.2): parser, evaluator, SQL compiler.

pub mod ast;
mod parser;

pub use ast::{AttrPath, CompValue, CompareOp, Filter};
pub use parser::{MAX_DEPTH, MAX_LEN};

use crate::error::ScimResult;

/// Parse a filter (syntax only).
pub fn parse(input: &str) -> ScimResult<Filter> {
    parser::parse_filter(input, false)
}

/// Parse the filter inside a PATCH path `attr[<filter>]`.
pub fn parse_value_filter(input: &str) -> ScimResult<Filter> {
    parser::parse_filter(input, true)
}

#[cfg(test)]
mod tests_parse;
