//! The one way the extension talks SQL to Postgres: SPI with kept plans.
//!
//! Every statement has a fixed shape (values are always bound parameters,
//! paging included; filters compile to the same text for the same shape),
//! so each distinct SQL text is prepared once per backend ([`plan::Plan`],
//! generic or planned per call) and reused from the bounded [`cache`]:
//! no parse or plan per call. Postgres still re-plans a kept plan after
//! DDL/ANALYZE. Rows are read in place ([`Row`]) and jsonb crosses as a
//! datum or through a fallible conversion ([`jsonb`]).
//!
//! Statements never go through pgrx's `Spi::update`, which asks for a
//! transaction id (and so fails on a hot standby even for a SELECT).

pub mod cache;
pub mod direct;
pub mod jsonb;
pub mod jsonb_compose;
pub mod jsonb_decode;
pub mod plan;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use plan::get;
use scim_core::ScimResult;
use serde_json::Value;

/// One result row, read by 1-based column.
pub struct Row(usize);

impl Row {
    pub fn get<T: FromDatum>(&self, col: i32) -> Option<T> {
        get(self.0, col)
    }

    /// A jsonb column kept as a datum, copied into the caller's memory.
    pub fn jsonb(&self, col: i32) -> Option<jsonb::JsonbDatum> {
        // SAFETY: rows are only handed out while their result is current;
        // callers name jsonb columns of their own statements.
        unsafe { jsonb::JsonbDatum::from_spi(self.0, col) }
    }

    /// A jsonb[] column as its (non-NULL) elements.
    pub fn jsonb_array(&self, col: i32) -> Option<Vec<jsonb::JsonbDatum>> {
        // SAFETY: as for `jsonb`; callers name jsonb[] columns.
        unsafe { jsonb::JsonbDatum::array_from_spi(self.0, col) }
    }

    /// A jsonb column as serde JSON; a value serde cannot hold (too deep,
    /// a number out of range) is an error, not a panic.
    pub fn json(&self, col: i32) -> ScimResult<Option<serde_json::Value>> {
        self.jsonb(col).map(|d| d.to_value()).transpose()
    }
}

/// Run `sql` (generic plan) and hand every row to `each`.
pub fn for_each_row(
    sql: &str,
    args: &[DatumWithOid],
    each: impl FnMut(&Row) -> ScimResult<()>,
) -> ScimResult<()> {
    for_each_row_planned(sql, args, true, each)
}

/// Run `sql`, with a generic plan or one planned per call (see
/// `CompiledFilter::per_call_plan`), and hand every row to `each`.
pub fn for_each_row_planned(
    sql: &str,
    args: &[DatumWithOid],
    generic: bool,
    mut each: impl FnMut(&Row) -> ScimResult<()>,
) -> ScimResult<()> {
    Spi::connect_mut(|_| {
        let p = cache::plan(sql, args, generic)?;
        let values: Vec<Option<pg_sys::Datum>> = args
            .iter()
            .map(|a| a.datum().map(|d| d.sans_lifetime()))
            .collect();
        let n = p.execute(&values, false)?;
        (0..n).try_for_each(|i| each(&Row(i)))
    })
}

/// The first column of the first row (None: no row or NULL).
pub fn one<A: FromDatum>(sql: &str, args: &[DatumWithOid]) -> ScimResult<Option<A>> {
    let mut out = None;
    for_each_row(sql, args, |row| {
        if out.is_none() {
            out = row.get::<A>(1);
        }
        Ok(())
    })?;
    Ok(out)
}

/// The first two columns of the first row, if any.
pub fn two<A: FromDatum, B: FromDatum>(
    sql: &str,
    args: &[DatumWithOid],
) -> ScimResult<Option<(Option<A>, Option<B>)>> {
    let mut out = None;
    for_each_row(sql, args, |row| {
        if out.is_none() {
            out = Some((row.get::<A>(1), row.get::<B>(2)));
        }
        Ok(())
    })?;
    Ok(out)
}

/// Run a statement for its effect.
pub fn run(sql: &str, args: &[DatumWithOid]) -> ScimResult<()> {
    for_each_row(sql, args, |_| Ok(()))
}

/// The jsonb value in the first column of the first row, if any.
pub fn one_json(sql: &str, args: &[DatumWithOid]) -> ScimResult<Option<Value>> {
    let mut out = None;
    for_each_row(sql, args, |row| {
        if out.is_none() {
            out = row.json(1)?;
        }
        Ok(())
    })?;
    Ok(out)
}

/// Run `f` inside an SPI connection (for code that runs [`plan::Plan`]s
/// it keeps itself, like the policy engine's fixed statements).
pub fn connected<T>(f: impl FnOnce() -> ScimResult<T>) -> ScimResult<T> {
    Spi::connect_mut(|_| f())
}
