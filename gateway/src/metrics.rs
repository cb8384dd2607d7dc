//! `GET /metrics`: Prometheus text exposition (version 0.0.4). Requests
//! by tenant id, method and status, a latency histogram, pool in use and
//! waiting, and rate-limited requests. Tenant ids only, never a token or
//! any request content.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use deadpool_postgres::Pool;

/// Latency bucket upper bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: Histogram,
    rate_limited: BTreeMap<String, u64>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// The tenant a response was for (set by the forwarder; "-" when none).
#[derive(Clone)]
pub struct TenantLabel(pub String);

impl Metrics {
    pub fn observe(&self, tenant: &str, method: &str, status: u16, took: Duration) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *m.requests
            .entry((tenant.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        let h = &mut m.latency;
        for (count, bound) in h.counts.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *count += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    pub fn rate_limited(&self, tenant: &str) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *m.rate_limited.entry(tenant.to_owned()).or_default() += 1;
    }

    pub fn render(&self, pool: &Pool) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP scim_http_requests_total HTTP requests by tenant, method and status.\n\
             # TYPE scim_http_requests_total counter"
        );
        for ((tenant, method, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "scim_http_requests_total{{tenant=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                label(tenant),
                label(method)
            );
        }
        let _ = writeln!(
            out,
            "# HELP scim_http_request_duration_seconds Request latency in the gateway.\n\
             # TYPE scim_http_request_duration_seconds histogram"
        );
        for (count, bound) in m.latency.counts.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "scim_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {count}"
            );
        }
        let h = &m.latency;
        let _ = writeln!(
            out,
            "scim_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n\
             scim_http_request_duration_seconds_sum {}\n\
             scim_http_request_duration_seconds_count {}",
            h.count, h.sum, h.count
        );
        let _ = writeln!(
            out,
            "# HELP scim_http_rate_limited_total Requests answered 429 by the rate limiter.\n\
             # TYPE scim_http_rate_limited_total counter"
        );
        for (tenant, n) in &m.rate_limited {
            let _ = writeln!(
                out,
                "scim_http_rate_limited_total{{tenant=\"{}\"}} {n}",
                label(tenant)
            );
        }
        let status = pool.status();
        let in_use = status.size.saturating_sub(status.available);
        let _ = writeln!(
            out,
            "# HELP scim_pool_connections Database connections of the pool by state.\n\
             # TYPE scim_pool_connections gauge\n\
             scim_pool_connections{{state=\"in_use\"}} {in_use}\n\
             scim_pool_connections{{state=\"idle\"}} {}\n\
             scim_pool_connections{{state=\"max\"}} {}\n\
             # HELP scim_pool_waiting Requests waiting for a database connection.\n\
             # TYPE scim_pool_waiting gauge\n\
             scim_pool_waiting {}",
            status.available, status.max_size, status.waiting
        );
        out
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
