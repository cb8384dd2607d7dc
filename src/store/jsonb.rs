//! A jsonb value kept as a Postgres datum. What SQL already built (a page
//! of rendered resources) goes back to SQL as it is: no trip through text,
//! serde and `jsonb_in` (pgrx's `JsonB` does both directions through text).
//! Listing with the default projection is the hot IdP path this serves.

use pgrx::pg_sys::{self, Datum};
use pgrx::prelude::*;
use pgrx::{direct_function_call_as_datum, JsonB};
use serde_json::Value;
use std::ffi::CString;

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

    /// Parse JSON text we wrote ourselves (small: a list response's head).
    pub fn from_text(text: &str) -> JsonbDatum {
        let c = CString::new(text).expect("JSON text without NUL");
        // SAFETY: jsonb_in takes a C string and returns a non-NULL jsonb.
        let d =
            unsafe { direct_function_call_as_datum(pg_sys::jsonb_in, &[Some(c.as_ptr().into())]) };
        JsonbDatum(d.expect("jsonb_in returns a value"))
    }

    /// `self || other` for two objects: keys of `other` win.
    pub fn concat(self, other: JsonbDatum) -> JsonbDatum {
        // SAFETY: both are valid jsonb datums; jsonb_concat returns one.
        let d = unsafe {
            direct_function_call_as_datum(pg_sys::jsonb_concat, &[Some(self.0), Some(other.0)])
        };
        JsonbDatum(d.expect("jsonb_concat returns a value"))
    }

    /// The value as serde JSON (for paths that must edit it in Rust).
    pub fn to_value(&self) -> Value {
        // SAFETY: a valid, non-NULL jsonb datum.
        unsafe { JsonB::from_datum(self.0, false) }
            .map(|j| j.0)
            .unwrap_or(Value::Null)
    }
}

impl From<JsonB> for JsonbDatum {
    fn from(j: JsonB) -> JsonbDatum {
        JsonbDatum(j.into_datum().expect("jsonb is never NULL"))
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
