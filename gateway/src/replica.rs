//! Read replicas (PostgreSQL streaming replication).
//!
//! With `--replica-url`, reads (`GET`, `HEAD`, `POST …/.search`) go to a
//! hot standby and everything else to the primary. The rule that keeps a
//! client's own writes visible to it: after a credential writes, its reads
//! go to the primary until the standby has replayed past that write's WAL
//! position. A standby answer of 401 or 404 is asked again of the primary
//! (a token or resource made moments ago, e.g. through SQL, may not have
//! reached the standby), and so is any read the standby cannot serve
//! (down, not caught up, too slow to connect).
//!
//! Credentials are told apart by a keyed hash of their `Authorization`
//! header; the gateway keeps no secret.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, Method};
use deadpool_postgres::Pool;
use tokio_postgres::types::PgLsn;

/// How often the standby's replay position is read.
const POLL: Duration = Duration::from_millis(20);
/// A credential's pending write is forgotten after this long at most (the
/// standby is then far behind; reads keep going to the primary only while
/// it is `stale`).
const PENDING_FOR: Duration = Duration::from_secs(60);
/// Pending writes remembered at most (oldest dropped first).
const MAX_PENDING: usize = 100_000;

pub struct Replica {
    pub pool: Pool,
    /// Last replay position read from the standby (0: unknown).
    replayed: AtomicU64,
    /// The last poll succeeded.
    healthy: AtomicBool,
    /// Credential → WAL position after its last write.
    pending: Mutex<HashMap<u64, (u64, Instant)>>,
    keys: std::hash::RandomState,
}

/// Whether a request only reads.
pub fn is_read(method: &Method, path: &str) -> bool {
    *method == Method::GET
        || *method == Method::HEAD
        || (*method == Method::POST && path.trim_end_matches('/').ends_with("/.search"))
}

impl Replica {
    pub fn new(pool: Pool) -> Arc<Replica> {
        Arc::new(Replica {
            pool,
            replayed: AtomicU64::new(0),
            healthy: AtomicBool::new(false),
            pending: Mutex::new(HashMap::new()),
            keys: std::hash::RandomState::new(),
        })
    }

    /// Poll the standby's replay position until the gateway stops.
    pub fn spawn_monitor(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(r) = me.upgrade() else { return };
                let lsn = r.read_replay_position().await;
                r.healthy.store(lsn.is_some(), Ordering::Relaxed);
                if let Some(lsn) = lsn {
                    r.replayed.store(lsn, Ordering::Relaxed);
                }
                drop(r);
                tokio::time::sleep(POLL).await;
            }
        });
    }

    async fn read_replay_position(&self) -> Option<u64> {
        let client = tokio::time::timeout(Duration::from_secs(1), self.pool.get())
            .await
            .ok()?
            .ok()?;
        let row = client
            .query_one("SELECT pg_last_wal_replay_lsn()", &[])
            .await
            .ok()?;
        let lsn: Option<PgLsn> = row.try_get(0).ok()?;
        lsn.map(u64::from)
    }

    pub fn credential(&self, authorization: Option<&HeaderValue>) -> u64 {
        self.keys
            .hash_one(authorization.map(HeaderValue::as_bytes).unwrap_or_default())
    }

    /// Whether the standby may answer this credential's read now.
    pub fn may_serve(&self, credential: u64) -> bool {
        if !self.healthy.load(Ordering::Relaxed) {
            return false;
        }
        let replayed = self.replayed.load(Ordering::Relaxed);
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.get(&credential) {
            None => true,
            Some(&(lsn, _)) if replayed >= lsn => {
                pending.remove(&credential);
                true
            }
            Some(&(_, at)) => {
                if at.elapsed() > PENDING_FOR {
                    pending.remove(&credential);
                }
                false
            }
        }
    }

    /// `credential` wrote; the primary's WAL was at `lsn` afterwards.
    pub fn wrote(&self, credential: u64, lsn: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.len() >= MAX_PENDING {
            let replayed = self.replayed.load(Ordering::Relaxed);
            pending.retain(|_, (l, at)| *l > replayed && at.elapsed() < PENDING_FOR);
            if pending.len() >= MAX_PENDING {
                pending.clear();
            }
        }
        pending.insert(credential, (lsn, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_get_head_and_search() {
        assert!(is_read(&Method::GET, "/Users"));
        assert!(is_read(&Method::HEAD, "/Users/x"));
        assert!(is_read(&Method::POST, "/.search"));
        assert!(is_read(&Method::POST, "/Users/.search"));
        assert!(!is_read(&Method::POST, "/Users"));
        assert!(!is_read(&Method::POST, "/Bulk"));
        assert!(!is_read(&Method::PATCH, "/Users/x"));
        assert!(!is_read(&Method::DELETE, "/Users/x"));
    }
}
