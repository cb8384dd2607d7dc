//! SPI with kept plans. Every statement we run has a fixed shape (values
//! are always bound parameters, paging included; filters compile to the
//! same text for the same shape), so each distinct SQL text is prepared
//! once per backend ([`super::plan::Plan`]) and reused: no parse or plan
//! per call. Postgres still re-plans a kept plan after DDL/ANALYZE.
//!
//! Filter shapes are open-ended (a client chooses them), so the cache is a
//! bounded LRU (`scim.plan_cache_size` entries) and an evicted plan is
//! freed (`SPI_freeplan`): a backend's memory stays bounded however many
//! shapes it sees.

use super::plan::{get, Plan};
use crate::settings;
use lru::LruCache;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use scim_core::ScimResult;
use std::cell::RefCell;
use std::num::NonZeroUsize;
use std::rc::Rc;

/// (SQL text, argument type oids, generic plan?).
type Key = (String, Vec<u32>, bool);

struct PlanCache {
    plans: LruCache<Key, Rc<Plan>>,
    /// Evicted plans still used by a statement running further up the
    /// stack (a nested SPI call evicted them); freed once they are not.
    retired: Vec<Rc<Plan>>,
}

impl PlanCache {
    fn new() -> PlanCache {
        PlanCache {
            plans: LruCache::new(capacity()),
            retired: Vec::new(),
        }
    }

    fn get(&mut self, key: &Key) -> Option<Rc<Plan>> {
        self.plans.get(key).cloned()
    }

    fn insert(&mut self, key: Key, plan: Rc<Plan>) {
        let cap = capacity();
        if self.plans.cap() != cap {
            self.retire_all(self.plans.len().saturating_sub(cap.get()));
            self.plans.resize(cap);
        }
        if let Some((_, old)) = self.plans.push(key, plan) {
            self.retired.push(old);
        }
        self.free_unused();
    }

    /// Move the `n` least recently used plans to `retired`.
    fn retire_all(&mut self, n: usize) {
        for _ in 0..n {
            match self.plans.pop_lru() {
                Some((_, p)) => self.retired.push(p),
                None => break,
            }
        }
    }

    /// Free every retired plan that no running statement holds.
    fn free_unused(&mut self) {
        let (free, busy): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retired)
            .into_iter()
            .partition(|p| Rc::strong_count(p) == 1);
        self.retired = busy;
        for p in free {
            if let Ok(plan) = Rc::try_unwrap(p) {
                plan.free();
            }
        }
    }
}

fn capacity() -> NonZeroUsize {
    NonZeroUsize::new(settings::plan_cache_size()).unwrap_or(NonZeroUsize::MIN)
}

thread_local! {
    // Leaked on purpose: a process-exit destructor must not call into
    // Postgres (plans are only freed by eviction, while it runs normally).
    static PLANS: &'static RefCell<PlanCache> = Box::leak(Box::new(RefCell::new(PlanCache::new())));
}

/// Number of plans kept now (tests and `scim_plan_cache_stats`).
pub fn kept_plans() -> usize {
    PLANS.with(|c| c.borrow().plans.len())
}

fn plan(sql: &str, args: &[DatumWithOid], generic: bool) -> ScimResult<Rc<Plan>> {
    let oids: Vec<pg_sys::Oid> = args.iter().map(|a| a.oid()).collect();
    let key = (
        sql.to_string(),
        oids.iter().map(|o| o.to_u32()).collect(),
        generic,
    );
    if let Some(p) = PLANS.with(|c| c.borrow_mut().get(&key)) {
        return Ok(p);
    }
    let kept = Rc::new(Plan::prepare_with(sql, &oids, generic)?);
    PLANS.with(|c| c.borrow_mut().insert(key, kept.clone()));
    Ok(kept)
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
        let p = plan(sql, args, generic)?;
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
