//! jsonb's binary format read straight into serde JSON: what `jsonb_out`
//! and then `serde_json::from_str` make of a document, without the text in
//! between (that round trip was most of the cost of taking a resource
//! argument, ~4 % of a create). The layout is the one `jsonb_compose`
//! writes (src/include/utils/jsonb.h). Whatever the text path must decide
//! itself returns `None` and the caller takes that path, so its errors read
//! exactly as before: nesting at serde's recursion limit, a number serde
//! cannot hold, a string that is not UTF-8.

use pgrx::direct_function_call;
use pgrx::pg_sys;
use serde_json::{Map, Number, Value};
use std::ffi::CStr;

/// Containers nested this deep go the text way (serde_json's parser stops
/// at 128 levels, with its own message).
const MAX_DEPTH: usize = 120;

/// A jsonb root container (a datum's bytes after its varlena header).
pub fn decode(root: &[u8]) -> Option<Value> {
    let header = word(root, 0)?;
    let value = container(root, 0)?;
    if header & pg_sys::JB_FSCALAR != 0 {
        // A raw scalar is stored as a one-element array marked scalar.
        match value {
            Value::Array(mut items) if items.len() == 1 => items.pop(),
            _ => None,
        }
    } else {
        Some(value)
    }
}

fn word(bytes: &[u8], at: usize) -> Option<u32> {
    let chunk = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(chunk.try_into().ok()?))
}

fn int_align(n: usize) -> usize {
    (n + 3) & !3
}

fn container(bytes: &[u8], depth: usize) -> Option<Value> {
    if depth >= MAX_DEPTH {
        return None;
    }
    let header = word(bytes, 0)?;
    let count = (header & pg_sys::JB_CMASK) as usize;
    let object = header & pg_sys::JB_FOBJECT != 0;
    let entries = if object { count.checked_mul(2)? } else { count };
    let data_start = 4usize.checked_add(entries.checked_mul(4)?)?;
    let data = bytes.get(data_start..)?;
    // Child i runs from the end of child i-1 to its own end: its JEntry
    // holds either its length or (every JB_OFFSET_STRIDE-th) its end.
    let mut children = Vec::with_capacity(entries);
    let mut end = 0usize;
    for i in 0..entries {
        let entry = word(bytes, 4 + 4 * i)?;
        let start = end;
        let field = (entry & pg_sys::JENTRY_OFFLENMASK) as usize;
        end = if entry & pg_sys::JENTRY_HAS_OFF != 0 {
            field
        } else {
            start.checked_add(field)?
        };
        children.push((entry & pg_sys::JENTRY_TYPEMASK, start, end));
    }
    let child = |&(kind, start, end): &(u32, usize, usize)| -> Option<Value> {
        let aligned = || data.get(int_align(start)..end);
        Some(match kind {
            pg_sys::JENTRY_ISNULL => Value::Null,
            pg_sys::JENTRY_ISBOOL_FALSE => Value::Bool(false),
            pg_sys::JENTRY_ISBOOL_TRUE => Value::Bool(true),
            pg_sys::JENTRY_ISSTRING => Value::String(text(data.get(start..end)?)?),
            pg_sys::JENTRY_ISNUMERIC => Value::Number(number(aligned()?)?),
            pg_sys::JENTRY_ISCONTAINER => container(aligned()?, depth + 1)?,
            _ => return None,
        })
    };
    if object {
        let mut map = Map::with_capacity(count);
        for (key, value) in children.iter().take(count).zip(children.iter().skip(count)) {
            if key.0 != pg_sys::JENTRY_ISSTRING {
                return None;
            }
            map.insert(text(data.get(key.1..key.2)?)?, child(value)?);
        }
        Some(Value::Object(map))
    } else {
        children
            .iter()
            .map(child)
            .collect::<Option<Vec<_>>>()
            .map(Value::Array)
    }
}

fn text(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes).ok().map(str::to_string)
}

/// A stored numeric (its varlena bytes) as serde reads `numeric_out`'s text.
fn number(varlena: &[u8]) -> Option<Number> {
    if varlena.is_empty() {
        return None;
    }
    // SAFETY: the bytes are a numeric varlena (JEntry type numeric), copied
    // to a fresh palloc'd (so aligned) buffer that numeric_out reads; both
    // it and the text are freed before returning.
    unsafe {
        let copy = pg_sys::palloc(varlena.len()) as *mut u8;
        std::ptr::copy_nonoverlapping(varlena.as_ptr(), copy, varlena.len());
        let printed =
            direct_function_call::<&CStr>(pg_sys::numeric_out, &[Some(pg_sys::Datum::from(copy))]);
        let parsed = printed
            .and_then(|t| t.to_str().ok())
            .and_then(|t| serde_json::from_str::<Number>(t).ok());
        if let Some(t) = printed {
            pg_sys::pfree(t.as_ptr() as *mut std::ffi::c_void);
        }
        pg_sys::pfree(copy as *mut std::ffi::c_void);
        parsed
    }
}
