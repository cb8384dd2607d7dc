//! Kept SPI plans that always use a generic plan: the one raw-SPI layer
//! every statement of the extension goes through (see `spi.rs` for the
//! cache keyed by SQL text, and the policy hot path for fixed plans).
//!
//! pgrx's `prepare(...).keep()` goes through `SPI_prepare`, whose plans are
//! subject to the plan cache's custom-vs-generic heuristic: when the
//! generic plan's estimate looks worse than a custom one, every execution
//! re-plans (measured: ~600 µs for the resolution query, against ~20 µs to
//! run it). The hot path cannot afford that gamble, so plans here are
//! prepared with `CURSOR_OPT_GENERIC_PLAN` (planned once per backend, and
//! again only after invalidation, e.g. DDL or ANALYZE).
//!
//! Everything here must run inside an SPI connection (`Spi::connect`).
//! Results are converted to owned Rust values before the next SPI call.

use pgrx::pg_sys::{self, BuiltinOid, Datum, PgOid};
use pgrx::prelude::*;
use scim_core::{ScimError, ScimResult};
use std::ffi::CString;
use std::ptr::NonNull;

pub struct Plan(NonNull<pg_sys::_SPI_plan>);

pub fn oid(o: BuiltinOid) -> pg_sys::Oid {
    PgOid::BuiltIn(o).value()
}

impl Plan {
    /// Prepare `sql` with a generic plan and keep it for the life of the
    /// backend.
    pub fn prepare(sql: &str, args: &[pg_sys::Oid]) -> ScimResult<Plan> {
        Self::prepare_with(sql, args, true)
    }

    /// `generic = false` keeps the statement but plans it for each call's
    /// values (pattern and range filters: only the values tell the planner
    /// whether to walk an index or the pages' id order).
    pub fn prepare_with(sql: &str, args: &[pg_sys::Oid], generic: bool) -> ScimResult<Plan> {
        let c = CString::new(sql)
            .map_err(|_| ScimError::new(500, None, "internal error: SQL text with a NUL byte"))?;
        let mut types = args.to_vec();
        let nargs = i32::try_from(types.len())
            .map_err(|_| ScimError::new(500, None, "internal error: too many SQL arguments"))?;
        // SAFETY: called inside an SPI connection; `types` outlives the call.
        unsafe {
            let p = pg_sys::SPI_prepare_cursor(
                c.as_ptr(),
                nargs,
                types.as_mut_ptr(),
                if generic {
                    pg_sys::CURSOR_OPT_GENERIC_PLAN as i32
                } else {
                    pg_sys::CURSOR_OPT_CUSTOM_PLAN as i32
                },
            );
            let Some(p) = NonNull::new(p) else {
                let code = pg_sys::SPI_result;
                error!("SPI_prepare_cursor failed (SPI_result {code})");
            };
            if pg_sys::SPI_keepplan(p.as_ptr()) != 0 {
                error!("SPI_keepplan failed");
            }
            Ok(Plan(p))
        }
    }

    /// Free the plan (`SPI_freeplan`): its plan source and cached plans.
    /// Only for plans no running statement uses (the cache checks).
    pub fn free(self) {
        // SAFETY: a plan we prepared and kept; nothing refers to it after
        // this (it is consumed).
        unsafe {
            pg_sys::SPI_freeplan(self.0.as_ptr());
        }
    }

    /// Run the plan read-only with `args` (`None` = SQL NULL); returns the
    /// number of rows, readable with [`get`] until the next SPI call.
    pub fn run(&self, args: &[Option<Datum>]) -> ScimResult<usize> {
        self.execute(args, true)
    }

    /// Run the plan; `read_only = false` for statements that write (and
    /// for reads that must see this transaction's earlier writes).
    pub fn execute(&self, args: &[Option<Datum>], read_only: bool) -> ScimResult<usize> {
        let mut values: Vec<Datum> = args
            .iter()
            .map(|a| a.unwrap_or(Datum::from(0usize)))
            .collect();
        let nulls: Vec<std::os::raw::c_char> = args
            .iter()
            .map(|a| if a.is_some() { b' ' } else { b'n' } as std::os::raw::c_char)
            .collect();
        // SAFETY: inside an SPI connection; argument count and types match
        // the prepared plan (our own constant statements).
        unsafe {
            pg_sys::SPI_tuptable = std::ptr::null_mut();
            let rc = pg_sys::SPI_execute_plan(
                self.0.as_ptr(),
                values.as_mut_ptr(),
                nulls.as_ptr(),
                read_only,
                0,
            );
            if rc < 0 {
                return Err(ScimError::new(
                    500,
                    None,
                    format!("internal error: SPI_execute_plan returned {rc}"),
                ));
            }
            Ok(usize::try_from(pg_sys::SPI_processed).unwrap_or(usize::MAX))
        }
    }
}

/// Column `col` (1-based) of row `row` (0-based) of the last result.
pub fn get<T: FromDatum>(row: usize, col: i32) -> Option<T> {
    // SAFETY: `T` matches the column type of our own statements;
    // `from_datum` copies by-reference values into Rust-owned memory.
    raw(row, col).and_then(|(d, isnull)| unsafe { T::from_datum(d, isnull) })
}

/// A jsonb column (1-based) of row `row` of the last result as serde JSON;
/// a value serde cannot hold is an error, never a panic.
pub fn get_json(row: usize, col: i32) -> ScimResult<Option<serde_json::Value>> {
    match raw(row, col) {
        // SAFETY: a non-NULL datum of a jsonb column of our own statement.
        Some((d, false)) => unsafe { super::jsonb::jsonb_to_value(d) }.map(Some),
        _ => Ok(None),
    }
}

/// The raw datum (and its null flag) at `row`, `col` of the last result;
/// `None` when there is no such row. It lives in SPI memory: copy it out
/// before `SPI_finish` (see `jsonb::JsonbDatum::from_spi`).
pub fn raw(row: usize, col: i32) -> Option<(Datum, bool)> {
    // SAFETY: called inside an SPI connection right after a statement ran;
    // the row index is checked against the result.
    unsafe {
        let tt = pg_sys::SPI_tuptable;
        if tt.is_null() || u64::try_from(row).map_or(true, |r| r >= (*tt).numvals) {
            return None;
        }
        let tuple = *(*tt).vals.add(row);
        let mut isnull = false;
        let d = pg_sys::SPI_getbinval(tuple, (*tt).tupdesc, col, &mut isnull);
        Some((d, isnull))
    }
}
