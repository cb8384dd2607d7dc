//! SPI with kept plans. Every statement we run has a fixed shape (values
//! are always bound parameters, filters compile to the same text for the
//! same shape), so each distinct SQL text is prepared once per backend,
//! with a generic plan ([`super::plan::Plan`]), and reused: no parse or
//! plan per call. Postgres still re-plans a kept plan after DDL/ANALYZE.

use super::plan::{get, Plan};
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use scim_core::ScimResult;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Distinct statements kept per backend before the cache is reset
/// (filter shapes are open-ended; the common ones come right back).
const MAX_PLANS: usize = 512;

/// (SQL text, argument type oids) → kept plan.
type PlanCache = HashMap<(String, Vec<u32>), Rc<Plan>>;

thread_local! {
    static PLANS: RefCell<PlanCache> = RefCell::new(HashMap::new());
}

fn plan(sql: &str, args: &[DatumWithOid], generic: bool) -> Rc<Plan> {
    let oids: Vec<pg_sys::Oid> = args.iter().map(|a| a.oid()).collect();
    let key = (sql.to_string(), oids.iter().map(|o| o.to_u32()).collect());
    if let Some(p) = PLANS.with(|m| m.borrow().get(&key).cloned()) {
        return p;
    }
    let kept = Rc::new(Plan::prepare_with(sql, &oids, generic));
    PLANS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_PLANS {
            m.clear();
        }
        m.insert(key, kept.clone());
    });
    kept
}

/// Whether a compiled filter can share one generic plan. Equality lookups
/// (what IdPs send) can. A pattern or range comparison on a bound value has
/// no selectivity in a generic plan: the planner may then walk the id order
/// and filter a million rows for a rare prefix, so statements with such a
/// filter are planned for each call's values.
pub fn generic_is_safe(filter_sql: &str) -> bool {
    ![" LIKE ", " > ", " < ", " >= ", " <= "]
        .iter()
        .any(|op| filter_sql.contains(op))
}

/// One result row, read by 1-based column.
pub struct Row(usize);

impl Row {
    pub fn get<T: FromDatum>(&self, col: i32) -> Option<T> {
        get(self.0, col)
    }

    /// A jsonb column kept as a datum, copied into the caller's memory.
    pub fn jsonb(&self, col: i32) -> Option<super::jsonb::JsonbDatum> {
        // SAFETY: rows are only handed out while their result is current;
        // callers name jsonb columns of their own statements.
        unsafe { super::jsonb::JsonbDatum::from_spi(self.0, col) }
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
/// [`generic_is_safe`]), and hand every row to `each`.
pub fn for_each_row_planned(
    sql: &str,
    args: &[DatumWithOid],
    generic: bool,
    mut each: impl FnMut(&Row) -> ScimResult<()>,
) -> ScimResult<()> {
    Spi::connect_mut(|_| {
        let p = plan(sql, args, generic);
        let values: Vec<Option<pg_sys::Datum>> = args
            .iter()
            .map(|a| a.datum().map(|d| d.sans_lifetime()))
            .collect();
        let n = p.execute(&values, false);
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
