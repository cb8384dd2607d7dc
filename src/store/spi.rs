//! SPI with kept plans. Every statement we run has a fixed shape (values
//! are always bound parameters, filters compile to the same text for the
//! same shape), so each distinct SQL text is prepared once per backend and
//! reused: no parse/plan per call. Postgres' plan cache still re-plans a
//! kept plan after DDL, and picks custom vs generic plans itself.

use crate::error::spi_err;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiHeapTupleData};
use pgrx::PgOid;
use scim_core::ScimResult;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Distinct statements kept per backend before the cache is reset
/// (filter shapes are open-ended; the common ones come right back).
const MAX_PLANS: usize = 512;

/// (SQL text, argument type oids) → kept plan.
type PlanCache = HashMap<(String, Vec<u32>), Rc<OwnedPreparedStatement>>;

thread_local! {
    static PLANS: RefCell<PlanCache> = RefCell::new(HashMap::new());
}

fn plan(
    client: &SpiClient<'_>,
    sql: &str,
    args: &[DatumWithOid],
) -> pgrx::spi::Result<Rc<OwnedPreparedStatement>> {
    let oids: Vec<u32> = args.iter().map(|a| a.oid().to_u32()).collect();
    let key = (sql.to_string(), oids);
    if let Some(p) = PLANS.with(|m| m.borrow().get(&key).cloned()) {
        return Ok(p);
    }
    let types: Vec<PgOid> = args.iter().map(|a| PgOid::from(a.oid())).collect();
    let kept = Rc::new(client.prepare_mut(sql, &types)?.keep());
    PLANS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_PLANS {
            m.clear();
        }
        m.insert(key, kept.clone());
    });
    Ok(kept)
}

/// Run `sql` and hand every row to `each`.
pub fn for_each_row(
    sql: &str,
    args: &[DatumWithOid],
    mut each: impl FnMut(&SpiHeapTupleData) -> pgrx::spi::Result<()>,
) -> ScimResult<()> {
    Spi::connect_mut(|c| -> pgrx::spi::Result<()> {
        let p = plan(c, sql, args)?;
        let table = c.update(&*p, None, args)?;
        for row in table {
            each(&row)?;
        }
        Ok(())
    })
    .map_err(spi_err)
}

/// The first column of the first row (None: no row or NULL).
pub fn one<A: FromDatum + IntoDatum>(sql: &str, args: &[DatumWithOid]) -> ScimResult<Option<A>> {
    let mut out = None;
    for_each_row(sql, args, |row| {
        if out.is_none() {
            out = row.get::<A>(1)?;
        }
        Ok(())
    })?;
    Ok(out)
}

/// The first two columns of the first row, if any.
pub fn two<A: FromDatum + IntoDatum, B: FromDatum + IntoDatum>(
    sql: &str,
    args: &[DatumWithOid],
) -> ScimResult<Option<(Option<A>, Option<B>)>> {
    let mut out = None;
    for_each_row(sql, args, |row| {
        if out.is_none() {
            out = Some((row.get::<A>(1)?, row.get::<B>(2)?));
        }
        Ok(())
    })?;
    Ok(out)
}

/// Run a statement for its effect.
pub fn run(sql: &str, args: &[DatumWithOid]) -> ScimResult<()> {
    for_each_row(sql, args, |_| Ok(()))
}
