//! The plan cache: a bounded LRU (`scim.plan_cache_size` entries) of kept
//! plans keyed by SQL text and argument types. Filter shapes are
//! open-ended (a client chooses them), so an evicted plan is freed
//! (`SPI_freeplan`): a backend's memory stays bounded however many shapes
//! it sees.

use super::plan::Plan;
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

/// The kept plan for `sql` with `args`' types, prepared on first use.
pub fn plan(sql: &str, args: &[DatumWithOid], generic: bool) -> ScimResult<Rc<Plan>> {
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
