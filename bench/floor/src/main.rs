//! The floor of scim_pg's HTTP stack, for scripts/bench (issue 15): the
//! gateway's libraries and pool size (axum, tokio-postgres, deadpool, 8
//! connections), each request one hand-written, prepared SQL statement
//! that returns the representation scim_pg returns (the row → JSON
//! expression is scim_pg's own, passed in by the bench). Reads use
//! `scim.users` of one tenant; writes go to copies of the tables with the
//! same indexes (`floor.users`, `floor.groups`, `floor.members`), made by
//! the bench. Authentication is a comparison with one bearer token.
//! Not part of the product: it answers only the shapes the bench sends.
//!
//! Environment: FLOOR_LISTEN, FLOOR_DATABASE_URL, FLOOR_TENANT (uuid),
//! FLOOR_TOKEN, FLOOR_USER_JSON (SQL expression of a row `r`), FLOOR_POOL.

// Helpers return the error response itself (`Result<_, Response>`): a
// handler answers with it as is.
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use serde_json::Value;
use std::sync::Arc;
use tokio_postgres::NoTls;

struct App {
    pool: Pool,
    tenant: String,
    token: String,
    sql: Sql,
}

struct Sql {
    list: String,
    get: String,
    post: String,
    put: String,
    patch_user: String,
    patch_group: String,
}

const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

fn statements(user_json: &str) -> Sql {
    Sql {
        list: format!(
            "SELECT coalesce(jsonb_agg(x ORDER BY id), '[]')::text, count(*) FROM \
             (SELECT r.id, {user_json} AS x FROM scim.users r WHERE r.tenant_id = $1::text::uuid \
               AND scim.fold(r.user_name) = scim.fold($2) ORDER BY r.id LIMIT 100) s"
        ),
        get: format!(
            "SELECT ({user_json})::text FROM scim.users r WHERE r.tenant_id = $1::text::uuid AND r.id = $2::text::uuid"
        ),
        post: format!(
            "INSERT INTO floor.users AS r (tenant_id, user_name, external_id, display_name, active, email_values, resource) \
             SELECT $1::text::uuid, j->>'userName', j->>'externalId', j->>'displayName', (j->>'active')::boolean, \
                    ARRAY(SELECT scim.fold(e->>'value') FROM jsonb_array_elements(j->'emails') e), \
                    j \
               FROM (SELECT $2::jsonb AS j) s RETURNING ({user_json})::text"
        ),
        put: format!(
            "UPDATE floor.users AS r SET user_name = j->>'userName', external_id = j->>'externalId', \
                    display_name = j->>'displayName', active = (j->>'active')::boolean, \
                    email_values = ARRAY(SELECT scim.fold(e->>'value') FROM jsonb_array_elements(j->'emails') e), \
                    resource = j, version = r.version + 1, last_modified = clock_timestamp() \
               FROM (SELECT $3::jsonb AS j) s \
              WHERE r.tenant_id = $1::text::uuid AND r.id = $2::text::uuid RETURNING ({user_json})::text"
        ),
        patch_user: format!(
            "UPDATE floor.users AS r SET display_name = $3, \
                    resource = jsonb_set(r.resource, '{{displayName}}', to_jsonb($3::text)), \
                    version = r.version + 1, last_modified = clock_timestamp() \
              WHERE r.tenant_id = $1::text::uuid AND r.id = $2::text::uuid RETURNING ({user_json})::text"
        ),
        patch_group: "WITH ins AS (INSERT INTO floor.members (tenant_id, group_id, member_id, member_type) \
                                   SELECT $1::text::uuid, $2::text::uuid, m::uuid, 'User' FROM unnest($3::text[]) m \
                                   ON CONFLICT DO NOTHING RETURNING 1) \
                      UPDATE floor.groups SET version = version + 1, last_modified = clock_timestamp() \
                       WHERE tenant_id = $1::text::uuid AND id = $2::text::uuid RETURNING version"
            .to_string(),
    }
}

fn scim(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/scim+json")], body).into_response()
}

fn error(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": status.as_u16().to_string(), "detail": detail});
    scim(status, body.to_string())
}

fn authorized(app: &App, h: &HeaderMap) -> bool {
    h.get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == app.token)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `userName eq "v"` → v (the only filter the bench sends).
fn user_name_filter(uri: &Uri) -> Option<String> {
    let q = uri.query()?;
    let f = q.split('&').find_map(|kv| kv.strip_prefix("filter="))?;
    let f = percent_decode(f);
    let rest = f.trim().strip_prefix("userName eq \"")?;
    rest.strip_suffix('"').map(str::to_string)
}

type Db = Result<deadpool_postgres::Object, Response>;

async fn db(app: &App) -> Db {
    app.pool
        .get()
        .await
        .map_err(|e| error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))
}

fn failed(e: tokio_postgres::Error) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
}

async fn list_users(State(app): State<Arc<App>>, h: HeaderMap, uri: Uri) -> Response {
    if !authorized(&app, &h) {
        return error(StatusCode::UNAUTHORIZED, "invalid token");
    }
    let Some(v) = user_name_filter(&uri) else {
        return error(StatusCode::BAD_REQUEST, "only userName eq");
    };
    let c = match db(&app).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let row = async {
        let st = c.prepare_cached(&app.sql.list).await?;
        c.query_one(&st, &[&app.tenant, &v]).await
    }
    .await;
    match row {
        Ok(row) => {
            let resources: String = row.get(0);
            let n: i64 = row.get(1);
            scim(
                StatusCode::OK,
                format!(
                    "{{\"schemas\":[\"{LIST_SCHEMA}\"],\"totalResults\":{n},\"itemsPerPage\":{n},\"startIndex\":1,\"Resources\":{resources}}}"
                ),
            )
        }
        Err(e) => failed(e),
    }
}

async fn one_row(
    app: &App,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ok: StatusCode,
) -> Response {
    let c = match db(app).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let row = async {
        let st = c.prepare_cached(sql).await?;
        c.query_opt(&st, params).await
    }
    .await;
    match row {
        Ok(Some(row)) => scim(ok, row.get::<_, String>(0)),
        Ok(None) => error(StatusCode::NOT_FOUND, "not found"),
        Err(e) => failed(e),
    }
}

async fn get_user(State(app): State<Arc<App>>, h: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&app, &h) {
        return error(StatusCode::UNAUTHORIZED, "invalid token");
    }
    one_row(&app, &app.sql.get, &[&app.tenant, &id], StatusCode::OK).await
}

fn json_body(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|_| error(StatusCode::BAD_REQUEST, "invalid JSON"))
}

async fn post_user(State(app): State<Arc<App>>, h: HeaderMap, body: Bytes) -> Response {
    if !authorized(&app, &h) {
        return error(StatusCode::UNAUTHORIZED, "invalid token");
    }
    let j = match json_body(&body) {
        Ok(j) => j,
        Err(r) => return r,
    };
    one_row(&app, &app.sql.post, &[&app.tenant, &j], StatusCode::CREATED).await
}

async fn put_user(
    State(app): State<Arc<App>>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if !authorized(&app, &h) {
        return error(StatusCode::UNAUTHORIZED, "invalid token");
    }
    let j = match json_body(&body) {
        Ok(j) => j,
        Err(r) => return r,
    };
    one_row(&app, &app.sql.put, &[&app.tenant, &id, &j], StatusCode::OK).await
}

async fn patch_user(
    State(app): State<Arc<App>>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if !authorized(&app, &h) {
        return error(StatusCode::UNAUTHORIZED, "invalid token");
    }
    let j = match json_body(&body) {
        Ok(j) => j,
        Err(r) => return r,
    };
    let Some(v) = j["Operations"][0]["value"].as_str().map(str::to_string) else {
        return error(StatusCode::BAD_REQUEST, "only replace displayName");
    };
    one_row(
        &app,
        &app.sql.patch_user,
        &[&app.tenant, &id, &v],
        StatusCode::OK,
    )
    .await
}

async fn patch_group(
    State(app): State<Arc<App>>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if !authorized(&app, &h) {
        return error(StatusCode::UNAUTHORIZED, "invalid token");
    }
    let j = match json_body(&body) {
        Ok(j) => j,
        Err(r) => return r,
    };
    let ids: Vec<String> = j["Operations"][0]["value"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["value"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let c = match db(&app).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let row = async {
        let st = c.prepare_cached(&app.sql.patch_group).await?;
        c.query_opt(&st, &[&app.tenant, &id, &ids]).await
    }
    .await;
    match row {
        Ok(Some(row)) => {
            let v: i64 = row.get(0);
            (StatusCode::NO_CONTENT, [("etag", format!("W/\"{v}\""))]).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "not found"),
        Err(e) => failed(e),
    }
}

async fn healthz() -> &'static str {
    "ok"
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("scim-bench-floor: {name} is not set");
        std::process::exit(2)
    })
}

#[tokio::main]
async fn main() {
    let pg: tokio_postgres::Config = env("FLOOR_DATABASE_URL").parse().unwrap_or_else(|e| {
        eprintln!("scim-bench-floor: FLOOR_DATABASE_URL: {e}");
        std::process::exit(2)
    });
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let size = std::env::var("FLOOR_POOL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let pool = match Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("scim-bench-floor: pool: {e}");
            std::process::exit(2)
        }
    };
    let app = Arc::new(App {
        pool,
        tenant: env("FLOOR_TENANT"),
        token: env("FLOOR_TOKEN"),
        sql: statements(&env("FLOOR_USER_JSON")),
    });
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/v2/Users", get(list_users).post(post_user))
        .route(
            "/v2/Users/{id}",
            get(get_user).put(put_user).patch(patch_user),
        )
        .route("/v2/Groups/{id}", axum::routing::patch(patch_group))
        .with_state(app);
    let listener = match tokio::net::TcpListener::bind(env("FLOOR_LISTEN")).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("scim-bench-floor: listen: {e}");
            std::process::exit(2)
        }
    };
    if let Err(e) = axum::serve(listener, router).await {
        eprintln!("scim-bench-floor: {e}");
    }
}
