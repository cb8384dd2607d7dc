//! One HTTP request → one `scim.scim_http()` call → one HTTP response.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use deadpool_postgres::{Pool, PoolError};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value};
use tokio_postgres::types::{PgLsn, ToSql};
use tokio_postgres::CancelToken;

use crate::error::{GatewayError, SCIM_CONTENT_TYPE};
use crate::replica::{self, Replica};
use crate::AppState;

/// The only statement the gateway runs for SCIM traffic (prepared once per
/// connection). `body` is fetched as text so it goes out exactly as
/// PostgreSQL renders it, without a parse/serialise round trip.
pub const SCIM_HTTP_SQL: &str = "SELECT status, headers, body::text AS body \
     FROM scim.scim_http($1::text, $2::text, $3::text, $4::jsonb, $5::text)";

/// Fallback handler: everything that is not `/healthz`.
pub async fn forward(State(state): State<AppState>, req: Request) -> Response {
    match forward_inner(state, req).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn forward_inner(state: AppState, req: Request) -> Result<Response, GatewayError> {
    let (parts, body) = req.into_parts();
    let path = relative_path(&state.base_path, parts.uri.path()).ok_or(GatewayError::NotFound)?;
    // The public base URL is not a request fact: scim_http takes it from
    // the session setting scim.public_url (--public-url), never a header.
    let headers = headers_to_json(&parts.headers);
    let call = ScimCall {
        method: parts.method.as_str().to_owned(),
        path: path.to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers,
        body: read_body(body, &parts.headers, state.max_body_bytes).await?,
    };

    let (row, node) = match &state.replica {
        Some(replica) if replica::is_read(&parts.method, path) => {
            let credential = replica.credential(parts.headers.get(header::AUTHORIZATION));
            read_preferring_replica(&state, replica, credential, call).await?
        }
        Some(replica) => {
            let credential = replica.credential(parts.headers.get(header::AUTHORIZATION));
            let (row, lsn) = run(&state.pool, state.watchdog, call, true).await?;
            if let Some(lsn) = lsn {
                replica.wrote(credential, lsn);
            }
            (row, Node::Primary)
        }
        None => (
            run(&state.pool, state.watchdog, call, false).await?.0,
            Node::Primary,
        ),
    };
    let mut resp = response_of(&row)?;
    if state.served_by_header {
        resp.headers_mut()
            .insert("x-scim-served-by", HeaderValue::from_static(node.name()));
    }
    Ok(resp)
}

/// Which server answered (the optional `X-Scim-Served-By` header).
#[derive(Clone, Copy)]
enum Node {
    Primary,
    Replica,
}

impl Node {
    fn name(self) -> &'static str {
        match self {
            Node::Primary => "primary",
            Node::Replica => "replica",
        }
    }
}

/// A read: from the standby when it may answer this credential, else
/// (or when it cannot answer, or says 401/404) from the primary.
async fn read_preferring_replica(
    state: &AppState,
    replica: &Replica,
    credential: u64,
    call: ScimCall,
) -> Result<(tokio_postgres::Row, Node), GatewayError> {
    if replica.may_serve(credential) {
        match run(&replica.pool, state.watchdog, call.clone(), false).await {
            Ok((row, _)) if !matches!(row.try_get::<_, i32>(0), Ok(401 | 404)) => {
                return Ok((row, Node::Replica))
            }
            Ok(_) => {}
            Err(GatewayError::Unavailable(cause)) => {
                eprintln!("scim-gateway: replica unavailable, reading from the primary: {cause}")
            }
            Err(e) => return Err(e),
        }
    }
    Ok((
        run(&state.pool, state.watchdog, call, false).await?.0,
        Node::Primary,
    ))
}

/// The arguments of one `scim.scim_http` call.
#[derive(Clone)]
struct ScimCall {
    method: String,
    path: String,
    query: String,
    headers: Value,
    body: Option<String>,
}

/// Run `call` on a connection of `pool`; with `wal_position`, also the
/// primary's WAL insert position right after it (for read-your-writes).
async fn run(
    pool: &Pool,
    watchdog: Option<Duration>,
    call: ScimCall,
    wal_position: bool,
) -> Result<(tokio_postgres::Row, Option<u64>), GatewayError> {
    let client = pool.get().await.map_err(pool_error)?;
    // The call runs in its own task, which owns the connection until the
    // statement has ended; this request only waits for it. If we stop
    // waiting (watchdog) or the client goes away (axum drops this future),
    // `cancel` asks the server to stop the statement: no orphaned work
    // keeps a backend busy, and the connection only returns to the pool
    // once its statement is over (so a late cancel cannot hit the next
    // request's statement).
    let cancel = CancelOnDrop::new(client.cancel_token());
    let task = tokio::spawn(async move {
        let stmt = client.prepare_cached(SCIM_HTTP_SQL).await?;
        let result = client
            .query_opt(
                &stmt,
                &[
                    &call.method as &(dyn ToSql + Sync),
                    &call.path,
                    &call.query,
                    &call.headers,
                    &call.body,
                ],
            )
            .await;
        if matches!(&result, Err(e) if e.as_db_error().is_some()) {
            // Re-prepare next time, e.g. after "cached plan must not
            // change result type" following an extension upgrade.
            client.statement_cache.remove(SCIM_HTTP_SQL, &[]);
        }
        let row = result?;
        let lsn = match (&row, wal_position) {
            (Some(_), true) => client
                .query_one("SELECT pg_current_wal_insert_lsn()", &[])
                .await?
                .try_get::<_, PgLsn>(0)
                .ok()
                .map(u64::from),
            _ => None,
        };
        Ok::<_, tokio_postgres::Error>((row, lsn))
    });
    let joined = match watchdog {
        None => task.await,
        Some(limit) => match tokio::time::timeout(limit, task).await {
            Ok(r) => r,
            // `cancel` fires as this returns.
            Err(_) => {
                return Err(GatewayError::Unavailable(format!(
                    "scim_http did not answer within {} ms",
                    limit.as_millis()
                )))
            }
        },
    };
    cancel.disarm();
    let (row, lsn) = joined
        .map_err(|e| GatewayError::Internal(format!("query task failed: {e}")))?
        .map_err(pg_error)?;
    let row = row.ok_or_else(|| GatewayError::Internal("scim_http returned no row".into()))?;
    Ok((row, lsn))
}

/// The HTTP response for a `scim_http` result row.
fn response_of(row: &tokio_postgres::Row) -> Result<Response, GatewayError> {
    let status: i32 = row.try_get(0).map_err(pg_error)?;
    let headers: Option<Value> = row.try_get(1).map_err(pg_error)?;
    let body: Option<String> = row.try_get(2).map_err(pg_error)?;
    build_response(status, headers, body)
}

/// Cancels the server-side statement when dropped while armed.
struct CancelOnDrop(Option<CancelToken>);

impl CancelOnDrop {
    fn new(token: CancelToken) -> Self {
        CancelOnDrop(Some(token))
    }

    /// The statement finished: nothing to cancel.
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(token) = self.0.take() {
            tokio::spawn(async move {
                let _ = token.cancel_query(tokio_postgres::NoTls).await;
            });
        }
    }
}

/// Path relative to the base: `/scim/v2` and `/scim/v2/` → `/`,
/// `/scim/v2/Users/x` → `/Users/x`; `None` outside the base. The path is
/// passed exactly as received (still percent-encoded).
pub fn relative_path<'a>(base: &str, path: &'a str) -> Option<&'a str> {
    let rest = path.strip_prefix(base)?;
    if rest.is_empty() {
        Some("/")
    } else if rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

/// Request headers as one JSON object with lower-cased names (http already
/// lower-cases them). Repeated headers are joined with ", " (RFC 9110 §5.3);
/// bytes that are not UTF-8 become U+FFFD.
fn headers_to_json(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        match map.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                map.insert(name.as_str().to_owned(), Value::String(value.into_owned()));
            }
        }
    }
    Value::Object(map)
}

/// Reads the whole body (bounded). `None` when empty.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Option<String>, GatewayError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(GatewayError::PayloadTooLarge(limit));
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(GatewayError::PayloadTooLarge(limit))
        }
        Err(_) => return Err(GatewayError::BadBody("The request body could not be read")),
    };
    if bytes.is_empty() {
        return Ok(None);
    }
    // PostgreSQL text cannot hold invalid UTF-8 or NUL; neither is valid JSON.
    let text = String::from_utf8(bytes.into())
        .map_err(|_| GatewayError::BadBody("The request body is not valid UTF-8"))?;
    if text.contains('\0') {
        return Err(GatewayError::BadBody(
            "The request body contains a NUL character",
        ));
    }
    Ok(Some(text))
}

/// Turns the SQL result into the HTTP response. `headers` is a JSON object;
/// a value may be a string (or number/bool) or an array of them (the header
/// is then repeated). A NULL body means an empty body.
fn build_response(
    status: i32,
    headers: Option<Value>,
    body: Option<String>,
) -> Result<Response, GatewayError> {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| GatewayError::Internal(format!("scim_http returned status {status}")))?;
    let has_body = body.is_some();
    let mut resp = match body {
        Some(text) => Response::new(Body::from(text)),
        None => Response::new(Body::empty()),
    };
    *resp.status_mut() = status;

    let out = resp.headers_mut();
    match headers {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    GatewayError::Internal(format!("scim_http returned header name {name:?}"))
                })?;
                match value {
                    Value::Array(items) => {
                        for item in items {
                            out.append(name.clone(), header_value(&name, item)?);
                        }
                    }
                    other => {
                        out.append(name.clone(), header_value(&name, other)?);
                    }
                }
            }
        }
        Some(other) => {
            return Err(GatewayError::Internal(format!(
                "scim_http returned headers that are not an object: {other}"
            )))
        }
    }
    if has_body && !out.contains_key(header::CONTENT_TYPE) {
        out.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        );
    }
    Ok(resp)
}

fn header_value(name: &HeaderName, value: Value) -> Result<HeaderValue, GatewayError> {
    let text = match value {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => {
            return Err(GatewayError::Internal(format!(
                "scim_http returned header {name} = {other}"
            )))
        }
    };
    HeaderValue::try_from(text).map_err(|e| {
        GatewayError::Internal(format!("scim_http returned invalid header {name}: {e}"))
    })
}

/// Any failure to get a connection is "temporarily unavailable".
pub(crate) fn pool_error(e: PoolError) -> GatewayError {
    GatewayError::Unavailable(format!("no database connection: {}", chain(&e)))
}

/// An error and its sources, for the log ("a: b: c").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Connection-level failures and server states that a retry can cure are 503;
/// any other SQL error is a bug (scim_http handles its own errors) and is 500.
pub(crate) fn pg_error(e: tokio_postgres::Error) -> GatewayError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        // 08: connection exception, 53: insufficient resources,
        // 57: operator intervention (incl. 57014 statement timeout).
        if ["08", "53", "57"]
            .iter()
            .any(|class| code.starts_with(class))
        {
            return GatewayError::Unavailable(format!("{code}: {}", db.message()));
        }
        return GatewayError::Internal(format!(
            "{code}: {}{}",
            db.message(),
            db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        ));
    }
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io {
        GatewayError::Unavailable(chain(&e))
    } else {
        GatewayError::Internal(chain(&e))
    }
}

/// Watchdog for one SQL call: the server-side statement timeout plus a margin.
pub(crate) fn watchdog(statement_timeout_ms: u64) -> Option<Duration> {
    (statement_timeout_ms > 0).then(|| Duration::from_millis(statement_timeout_ms + 1000))
}
