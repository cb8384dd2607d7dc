//! A jsonb value kept as a Postgres datum. What SQL already built (a page
//! of rendered resources) goes back to SQL as it is: no trip through text,
//! serde and `jsonb_in` (pgrx's `JsonB` does both directions through text).
//! Listing with the default projection is the hot IdP path this serves.

use pgrx::pg_sys::{self, Datum};
use pgrx::prelude::*;
use pgrx::{direct_function_call, direct_function_call_as_datum, JsonB};
use scim_core::{ScimError, ScimResult};
use serde_json::Value;
use std::ffi::CStr;

/// A non-NULL jsonb datum allocated in the memory context that was current
/// when it was made (for results: the calling function's context).
pub struct JsonbDatum(Datum);

impl JsonbDatum {
    /// Take column `col` of row `row` of the last SPI result, copied out of
    /// SPI's memory (which `SPI_finish` frees) into the caller's context.
    ///
    /// # Safety
    /// Inside an SPI connection, right after a statement returned more than
    /// `row` rows whose column `col` is of type jsonb.
    pub unsafe fn from_spi(row: usize, col: i32) -> Option<JsonbDatum> {
        match super::plan::raw(row, col) {
            Some((d, false)) => Some(JsonbDatum(pg_sys::SPI_datumTransfer(d, false, -1))),
            _ => None,
        }
    }

    /// Take column `col` of row `row` of the last SPI result, a `jsonb[]`,
    /// as its elements: the array is copied out of SPI's memory once, and
    /// the elements point into that copy (the caller's context). NULL
    /// elements are skipped.
    ///
    /// # Safety
    /// As for [`JsonbDatum::from_spi`], for a column of type jsonb[].
    pub unsafe fn array_from_spi(row: usize, col: i32) -> Option<Vec<JsonbDatum>> {
        let (d, false) = super::plan::raw(row, col)? else {
            return None;
        };
        let copied = pg_sys::SPI_datumTransfer(d, false, -1);
        let array = pg_sys::pg_detoast_datum(copied.cast_mut_ptr()) as *mut pg_sys::ArrayType;
        let (mut elems, mut nulls, mut n) = (std::ptr::null_mut(), std::ptr::null_mut(), 0);
        pg_sys::deconstruct_array(
            array,
            pg_sys::JSONBOID,
            -1,
            false,
            pg_sys::TYPALIGN_INT as std::ffi::c_char,
            &mut elems,
            &mut nulls,
            &mut n,
        );
        let n = usize::try_from(n).unwrap_or(0);
        Some(
            (0..n)
                .filter(|&i| !*nulls.add(i))
                .map(|i| JsonbDatum(*elems.add(i)))
                .collect(),
        )
    }

    /// The root container's bytes (the datum without its varlena header),
    /// detoasted when stored compressed or out of line (that copy lives in
    /// the current memory context).
    pub(super) fn container(&self) -> &[u8] {
        // SAFETY: a valid, non-NULL jsonb datum; the bytes live as long as
        // the memory it (or its detoasted copy) was made in, which outlives
        // the borrow of `self` in the callers (one statement).
        unsafe {
            let v = pg_sys::pg_detoast_datum_packed(self.0.cast_mut_ptr());
            std::slice::from_raw_parts(
                pgrx::varlena::vardata_any(v) as *const u8,
                pgrx::varlena::varsize_any_exhdr(v),
            )
        }
    }

    /// # Safety
    /// `d` is a valid, non-NULL jsonb datum.
    pub(super) unsafe fn from_datum(d: Datum) -> JsonbDatum {
        JsonbDatum(d)
    }

    /// `self` (an object) with `key` set to `value`, in one pass over
    /// `value` (jsonb_set; `_http_dispatch` wraps a reply's body with it).
    pub fn with_key(self, key: &str, value: JsonbDatum) -> ScimResult<JsonbDatum> {
        let path = vec![key].into_datum();
        // SAFETY: valid jsonb datums, a text[] path and a boolean, the
        // argument types of jsonb_set(jsonb, text[], jsonb, boolean).
        let d = unsafe {
            direct_function_call_as_datum(
                pg_sys::jsonb_set,
                &[Some(self.0), path, Some(value.0), true.into_datum()],
            )
        };
        d.map(JsonbDatum)
            .ok_or_else(|| internal("jsonb_set returned NULL"))
    }

    /// The value as serde JSON (for paths that must edit it in Rust).
    pub fn to_value(&self) -> ScimResult<Value> {
        // SAFETY: a valid, non-NULL jsonb datum.
        unsafe { jsonb_to_value(self.0) }
    }

    /// The value as serde JSON by way of its text (the reference
    /// `to_value`'s direct reading is tested against).
    pub fn to_value_through_text(&self) -> ScimResult<Value> {
        // SAFETY: a valid, non-NULL jsonb datum.
        unsafe { jsonb_to_value_through_text(self.0) }
    }
}

pub(super) fn internal(what: &str) -> ScimError {
    ScimError::new(500, None, format!("internal error: {what}"))
}

/// jsonb → serde JSON, without a panic: read from the binary format
/// directly, or where that declines (see `jsonb_decode`) through jsonb's
/// text form, where a value serde cannot represent (nested deeper than 128
/// levels, a number beyond f64) is a 400 `invalidValue`.
///
/// # Safety
/// `d` is a valid, non-NULL jsonb datum.
pub unsafe fn jsonb_to_value(d: Datum) -> ScimResult<Value> {
    if let Some(v) = super::jsonb_decode::decode(JsonbDatum(d).container()) {
        return Ok(v);
    }
    jsonb_to_value_through_text(d)
}

/// jsonb → serde JSON through `jsonb_out` and `serde_json::from_str` (the
/// reference the direct reading is tested against).
///
/// # Safety
/// `d` is a valid, non-NULL jsonb datum.
pub unsafe fn jsonb_to_value_through_text(d: Datum) -> ScimResult<Value> {
    let text = direct_function_call::<&CStr>(pg_sys::jsonb_out, &[Some(d)])
        .ok_or_else(|| internal("jsonb_out returned NULL"))?;
    let parsed = match text.to_str() {
        Ok(t) => serde_json::from_str(t).map_err(|e| {
            ScimError::invalid_value(format!("the JSON value cannot be accepted: {e}"))
        }),
        Err(_) => Err(internal("jsonb text is not UTF-8")),
    };
    pg_sys::pfree(text.as_ptr() as *mut std::ffi::c_void);
    parsed
}

/// A `jsonb` argument of a SQL function, read without a panic: pgrx's
/// `JsonB` `expect`s that serde can hold the value, which a client can
/// defeat (deep nesting, `1e400`). Functions taking client JSON take this
/// and turn a value they cannot read into a SCIM 400.
pub struct JsonArg(ScimResult<Value>);

impl JsonArg {
    pub fn value(self) -> ScimResult<Value> {
        self.0
    }
}

impl FromDatum for JsonArg {
    unsafe fn from_polymorphic_datum(
        datum: Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<JsonArg> {
        if is_null {
            return None;
        }
        let varlena = datum.cast_mut_ptr();
        let detoasted = pg_sys::pg_detoast_datum_packed(varlena);
        let value = jsonb_to_value(Datum::from(detoasted));
        if detoasted != varlena {
            pg_sys::pfree(detoasted as *mut std::ffi::c_void);
        }
        Some(JsonArg(value))
    }
}

// SAFETY: the SQL type is jsonb, which is what `from_polymorphic_datum` reads.
unsafe impl<'fcx> pgrx::callconv::ArgAbi<'fcx> for JsonArg {
    unsafe fn unbox_arg_unchecked(arg: pgrx::callconv::Arg<'_, 'fcx>) -> Self {
        // (pgrx declares functions with non-Option arguments STRICT, so a
        // NULL never gets here; if it did, it is a client error, not a panic.)
        unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or_else(|| {
            JsonArg(Err(ScimError::invalid_value(
                "a JSON value is required, not NULL",
            )))
        })
    }

    unsafe fn unbox_nullable_arg(
        arg: pgrx::callconv::Arg<'_, 'fcx>,
    ) -> pgrx::nullable::Nullable<Self> {
        unsafe { arg.unbox_arg_using_from_datum() }.into()
    }
}

pgrx::impl_sql_translatable!(JsonArg, "jsonb");

impl JsonbDatum {
    /// serde JSON as a jsonb datum: encoded directly, or through
    /// `jsonb_in` where it must decide (a scalar, a string with U+0000).
    pub fn from_value(v: Value) -> ScimResult<JsonbDatum> {
        Self::from_value_ref(&v)
    }

    /// As `from_value`, for a value the caller keeps (only what `jsonb_in`
    /// must decide is copied, for it).
    pub fn from_value_ref(v: &Value) -> ScimResult<JsonbDatum> {
        match super::jsonb_compose::document(v)? {
            Some(d) => Ok(d),
            None => Self::through_text(v.clone()),
        }
    }

    /// serde JSON as a jsonb datum by way of its text and `jsonb_in` (the
    /// reference the direct encoder is tested against).
    pub fn through_text(v: Value) -> ScimResult<JsonbDatum> {
        JsonB(v)
            .into_datum()
            .map(JsonbDatum)
            .ok_or_else(|| internal("jsonb datum is NULL"))
    }
}

impl IntoDatum for JsonbDatum {
    fn into_datum(self) -> Option<Datum> {
        Some(self.0)
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::JSONBOID
    }
}

// The SQL type is jsonb, which is what the datum holds.
pgrx::impl_sql_translatable!(JsonbDatum, "jsonb");

// SAFETY: the datum lives in the function's memory context (see
// `from_spi`), so it outlives the call it is returned from.
unsafe impl pgrx::callconv::BoxRet for JsonbDatum {
    unsafe fn box_into<'fcx>(
        self,
        fcinfo: &mut pgrx::callconv::FcInfo<'fcx>,
    ) -> pgrx::datum::Datum<'fcx> {
        fcinfo.return_raw_datum(self.0)
    }
}
