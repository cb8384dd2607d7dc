//! Per-tenant rate limits (README "Rate limits"), enforced here without a
//! database write per request.
//!
//! The limits are set in SQL (`scim.scim_rate_limit_set`). `scim_http`
//! reports, in internal response headers the gateway strips, the tenant
//! of the credential and that tenant's limit; the gateway caches them per
//! credential (a hash of the Authorization header) and checks the next
//! request of that credential against the tenant's token bucket before
//! calling the database. So a credential's first request is never limited
//! and a changed limit applies from the request after the next one.
//!
//! A token bucket per tenant: `burst` requests at once, refilled at
//! `rate` per second. A Bulk request costs its number of operations
//! (at most `burst`, so a large Bulk waits for a full bucket instead of
//! never passing).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue};

/// Internal headers from `scim_http` (never forwarded to the client).
pub const TENANT_HEADER: &str = "x-scim-internal-tenant";
pub const LIMIT_HEADER: &str = "x-scim-internal-rate-limit";
/// The request header that asks `scim_http` for them (always overwritten).
pub const ASK_HEADER: &str = "x-scim-internal";

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    pub rate: f64,
    pub burst: f64,
}

impl Limit {
    /// `"<rate> <burst>"` as `scim_http` writes it.
    pub fn parse(text: &str) -> Option<Limit> {
        let (rate, burst) = text.trim().split_once(' ')?;
        let (rate, burst) = (rate.parse::<f64>().ok()?, burst.parse::<f64>().ok()?);
        (rate > 0.0 && burst >= 1.0 && rate.is_finite() && burst.is_finite())
            .then_some(Limit { rate, burst })
    }
}

/// What a credential's last response said about it.
#[derive(Clone, Debug)]
pub struct Known {
    pub tenant: String,
    pub limit: Option<Limit>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
    limit: Limit,
}

/// The outcome of one check, with what the X-RateLimit-* headers say.
#[derive(Debug, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: Limit,
    /// Whole requests left in the bucket after this one.
    pub remaining: u64,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Seconds until this request would pass (when refused).
    pub retry_after_secs: u64,
}

#[derive(Default)]
pub struct RateLimiter {
    credentials: Mutex<HashMap<u64, Known>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    keys: std::collections::hash_map::RandomState,
}

/// Credentials remembered at most (then the map starts over: a
/// forgotten credential's next request is simply not limited once).
const MAX_CREDENTIALS: usize = 100_000;

impl RateLimiter {
    pub fn credential(&self, authorization: Option<&HeaderValue>) -> u64 {
        self.keys
            .hash_one(authorization.map(HeaderValue::as_bytes).unwrap_or_default())
    }

    pub fn known(&self, credential: u64) -> Option<Known> {
        let map = self.credentials.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&credential).cloned()
    }

    /// Remember what `scim_http` said about this credential, and remove
    /// the internal headers from the response.
    pub fn learn(&self, credential: u64, headers: &mut HeaderMap) -> Option<Known> {
        let tenant = headers.remove(TENANT_HEADER)?;
        let limit = headers
            .remove(LIMIT_HEADER)
            .and_then(|v| v.to_str().ok().and_then(Limit::parse));
        let known = Known {
            tenant: tenant.to_str().ok()?.to_owned(),
            limit,
        };
        let mut map = self.credentials.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_CREDENTIALS && !map.contains_key(&credential) {
            map.clear();
        }
        map.insert(credential, known.clone());
        Some(known)
    }

    /// Take `cost` requests from the tenant's bucket, if they are there.
    pub fn check(&self, tenant: &str, limit: Limit, cost: u64) -> Decision {
        self.check_at(tenant, limit, cost, Instant::now())
    }

    fn check_at(&self, tenant: &str, limit: Limit, cost: u64, now: Instant) -> Decision {
        let cost = (cost.max(1) as f64).min(limit.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(tenant.to_owned()).or_insert(Bucket {
            tokens: limit.burst,
            at: now,
            limit,
        });
        if bucket.limit != limit {
            // The limit changed: keep the level, within the new burst.
            bucket.limit = limit;
            bucket.tokens = bucket.tokens.min(limit.burst);
        }
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.rate).min(limit.burst);
        bucket.at = now;
        let allowed = bucket.tokens >= cost;
        if allowed {
            bucket.tokens -= cost;
        }
        let secs = |missing: f64| (missing.max(0.0) / limit.rate).ceil() as u64;
        Decision {
            allowed,
            limit,
            remaining: bucket.tokens.floor() as u64,
            reset_secs: secs(limit.burst - bucket.tokens),
            retry_after_secs: if allowed {
                0
            } else {
                secs(cost - bucket.tokens).max(1)
            },
        }
    }
}

/// The X-RateLimit-* headers for a decision (also on allowed requests).
pub fn headers(d: &Decision, out: &mut HeaderMap) {
    let put = |out: &mut HeaderMap, name: &'static str, v: u64| {
        out.insert(name, HeaderValue::from(v));
    };
    put(out, "x-ratelimit-limit", d.limit.burst as u64);
    put(out, "x-ratelimit-remaining", d.remaining);
    put(out, "x-ratelimit-reset", d.reset_secs);
    if !d.allowed {
        put(out, "retry-after", d.retry_after_secs);
    }
}

/// What a request costs: a Bulk request its number of operations.
pub fn cost(method: &axum::http::Method, path: &str, body: Option<&str>) -> u64 {
    let bulk = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .is_some_and(|last| last.eq_ignore_ascii_case("Bulk"));
    if method != axum::http::Method::POST || !bulk {
        return 1;
    }
    body.and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .and_then(|v| {
            v.as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
                .and_then(|(_, ops)| ops.as_array().map(|a| a.len() as u64))
        })
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let rl = RateLimiter::default();
        let limit = Limit {
            rate: 2.0,
            burst: 3.0,
        };
        let t0 = Instant::now();
        for left in [2, 1, 0] {
            let d = rl.check_at("t", limit, 1, t0);
            assert!(d.allowed);
            assert_eq!(d.remaining, left);
        }
        let refused = rl.check_at("t", limit, 1, t0);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 1);
        assert_eq!(refused.reset_secs, 2);
        // Half a second refills one request at 2/s.
        assert!(
            rl.check_at("t", limit, 1, t0 + Duration::from_millis(500))
                .allowed
        );
        // Another tenant has its own bucket.
        assert!(rl.check_at("u", limit, 1, t0).allowed);
    }

    #[test]
    fn bulk_costs_its_operations_capped_at_burst() {
        let rl = RateLimiter::default();
        let limit = Limit {
            rate: 1.0,
            burst: 5.0,
        };
        let t0 = Instant::now();
        assert!(rl.check_at("t", limit, 50, t0).allowed);
        assert!(!rl.check_at("t", limit, 1, t0).allowed);
        let body = r#"{"schemas":[],"Operations":[{},{},{}]}"#;
        assert_eq!(cost(&axum::http::Method::POST, "/Bulk", Some(body)), 3);
        assert_eq!(cost(&axum::http::Method::POST, "/bulk/", Some(body)), 3);
        assert_eq!(cost(&axum::http::Method::GET, "/Users", None), 1);
    }

    #[test]
    fn limit_header_parses_only_sane_values() {
        assert_eq!(
            Limit::parse("10 20"),
            Some(Limit {
                rate: 10.0,
                burst: 20.0
            })
        );
        assert_eq!(Limit::parse("0 20"), None);
        assert_eq!(Limit::parse("x"), None);
    }
}
