//! scim_gateway: a thin HTTP front for scim_pg.
//!
//! Every request under the base path (default `/scim/v2`) becomes exactly one
//! call of `scim.scim_http(method, path, query, headers, body)` and its
//! `(status, headers, body)` result is written back unchanged. The gateway has
//! no SCIM logic of its own; it only answers 404 (outside the base path),
//! 413 (body too large), 400 (body not UTF-8 text), 503 (database
//! unavailable) and 500 (unexpected SQL error) itself.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::net::TcpListener;
use tokio_postgres::NoTls;

mod config;
mod error;
mod forward;
pub mod replica;

pub use config::{AccessLog, Config};
pub use error::{scim_error, GatewayError};
pub use forward::{relative_path, SCIM_HTTP_SQL};
pub use replica::Replica;

/// Shared request-handling state.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub base_path: Arc<str>,
    pub max_body_bytes: usize,
    /// Gateway-side limit for one SQL call (`None`: wait forever).
    pub watchdog: Option<Duration>,
    /// A hot standby for reads (`--replica-url`).
    pub replica: Option<Arc<Replica>>,
    pub served_by_header: bool,
    pub access_log: AccessLog,
    pub slow_request: Duration,
}

impl AppState {
    pub fn new(pool: Pool, config: &Config) -> Self {
        AppState {
            pool,
            base_path: config.base_path.as_str().into(),
            max_body_bytes: config.max_body_bytes,
            watchdog: forward::watchdog(config.statement_timeout_ms),
            replica: None,
            served_by_header: config.served_by_header,
            access_log: config.access_log,
            slow_request: Duration::from_millis(config.slow_request_ms),
        }
    }

    /// Read from `replica` (a pool on a hot standby); starts polling its
    /// replay position (call inside the runtime).
    pub fn with_replica(mut self, replica_pool: Pool) -> Self {
        let r = Replica::new(replica_pool);
        r.spawn_monitor();
        self.replica = Some(r);
        self
    }
}

/// Builds the connection pool. Connections are opened lazily, so this does
/// not fail when the database is down; requests get 503 until it is back.
pub fn build_pool(pg: tokio_postgres::Config, config: &Config) -> Pool {
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let timeout = Some(config.pool_timeout());
    Pool::builder(manager)
        .max_size(config.pool_size)
        .wait_timeout(timeout)
        .create_timeout(timeout)
        .recycle_timeout(timeout)
        .runtime(Runtime::Tokio1)
        .build()
        .expect("a pool with a runtime and timeouts always builds")
}

/// The HTTP application: `GET /healthz`, everything else is forwarded (or 404).
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .fallback(forward::forward)
        .layer(middleware::from_fn_with_state(state.clone(), access_log))
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` completes, then stops
/// accepting and waits for in-flight requests.
pub async fn serve<F>(listener: TcpListener, state: AppState, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz(State(state): State<AppState>) -> Response {
    let check = async {
        let client = state.pool.get().await.map_err(forward::pool_error)?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(forward::pg_error)?;
        Ok::<_, GatewayError>(())
    };
    let result = match state.watchdog {
        Some(limit) => tokio::time::timeout(limit, check)
            .await
            .unwrap_or_else(|_| Err(GatewayError::Unavailable("health check timed out".into()))),
        None => check.await,
    };
    match result {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(GatewayError::Unavailable(cause)) | Err(GatewayError::Internal(cause)) => {
            eprintln!("scim-gateway: health check failed: {cause}");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response()
        }
        Err(other) => other.into_response(),
    }
}

/// A stderr line (method, path without query, status, time) for every
/// request (`--access-log all`), or only for server errors and slow
/// requests (`errors`, the default: a busy gateway's log stays small).
async fn access_log(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.access_log == AccessLog::Off {
        return next.run(req).await;
    }
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    let took = start.elapsed();
    let status = resp.status().as_u16();
    if state.access_log == AccessLog::All || status >= 500 || took >= state.slow_request {
        eprintln!(
            "{method} {path} {status} {:.1}ms",
            took.as_secs_f64() * 1000.0
        );
    }
    resp
}
