//! Shared helpers for the integration tests: a stub `scim.scim_http()` in a
//! dedicated database, an in-process gateway on an ephemeral port and a tiny
//! HTTP/1.1 client.
//!
//! The tests need a PostgreSQL server whose URL is in
//! `SCIM_GATEWAY_TEST_DATABASE_URL` (a role allowed to CREATE DATABASE).
//! They never touch the database named there: the stub lives in a separate
//! database, `scim_gateway_test`, so a real scim_pg installation next to it
//! is left alone.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use scim_gateway::{build_pool, serve, AppState, Config};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ENV_VAR: &str = "SCIM_GATEWAY_TEST_DATABASE_URL";
pub const TEST_DB: &str = "scim_gateway_test";

/// Echoes its inputs; a few paths trigger special answers.
const STUB_SQL: &str = r#"
CREATE SCHEMA IF NOT EXISTS scim;
CREATE OR REPLACE FUNCTION scim.scim_http(p_method text, p_path text, p_query text, p_headers jsonb, p_body text)
RETURNS TABLE(status int, headers jsonb, body jsonb)
LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_path = '/created' THEN
    RETURN QUERY SELECT 201,
      jsonb_build_object('Content-Type', 'application/scim+json',
                         'Location', 'https://example.test/scim/v2/Users/42',
                         'ETag', 'W/"1"'),
      '{"id": "42", "meta": {"version": "W/\"1\""}}'::jsonb;
  ELSIF p_path = '/nocontent' THEN
    RETURN QUERY SELECT 204, '{}'::jsonb, NULL::jsonb;
  ELSIF p_path = '/notmodified' THEN
    RETURN QUERY SELECT 304, jsonb_build_object('ETag', 'W/"7"'), NULL::jsonb;
  ELSIF p_path = '/multi' THEN
    RETURN QUERY SELECT 200,
      '{"Content-Type": "application/scim+json", "X-Multi": ["a", "b"], "X-Num": 3}'::jsonb,
      '[]'::jsonb;
  ELSIF p_path = '/sleep' THEN
    PERFORM pg_sleep(coalesce(nullif(p_query, '')::float8, 2));
    RETURN QUERY SELECT 200, '{"Content-Type": "application/scim+json"}'::jsonb, '{"slept": true}'::jsonb;
  ELSIF p_path = '/raise' THEN
    RAISE EXCEPTION 'secret internal failure';
  ELSIF p_path = '/badstatus' THEN
    RETURN QUERY SELECT 42, '{}'::jsonb, NULL::jsonb;
  ELSIF p_path = '/badheader' THEN
    RETURN QUERY SELECT 200, '{"Bad Name": "x"}'::jsonb, NULL::jsonb;
  ELSE
    RETURN QUERY SELECT 200,
      jsonb_build_object('Content-Type', 'application/scim+json', 'X-Stub', 'echo'),
      jsonb_build_object('method', p_method, 'path', p_path, 'query', p_query,
                         'headers', p_headers, 'body', p_body,
                         'public_url', current_setting('scim.public_url', true));
  END IF;
END
$fn$;
"#;

/// Connection settings for the stub database, or `None` (with a notice) when
/// the environment variable is unset.
pub async fn stub_db(test: &str) -> Option<tokio_postgres::Config> {
    let url = match std::env::var(ENV_VAR) {
        Ok(u) if !u.trim().is_empty() => u,
        _ => {
            eprintln!("SKIPPED {test}: set {ENV_VAR} to a PostgreSQL URL to run it");
            return None;
        }
    };
    let admin: tokio_postgres::Config = url.parse().expect("valid test database URL");
    let mut stub = admin.clone();
    stub.dbname(TEST_DB);

    // One process at a time creates the database and (re)creates the stub.
    let admin_client = connect(&admin).await;
    admin_client
        .execute(
            "SELECT pg_advisory_lock(hashtext('scim_gateway_test'))",
            &[],
        )
        .await
        .unwrap();
    let exists = admin_client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&TEST_DB])
        .await
        .unwrap()
        .is_some();
    if !exists {
        admin_client
            .batch_execute(&format!("CREATE DATABASE {TEST_DB}"))
            .await
            .expect("CREATE DATABASE scim_gateway_test (the test role needs CREATEDB)");
    }
    let client = connect(&stub).await;
    client.batch_execute(STUB_SQL).await.expect("stub created");
    drop(client);
    admin_client
        .execute(
            "SELECT pg_advisory_unlock(hashtext('scim_gateway_test'))",
            &[],
        )
        .await
        .unwrap();
    Some(stub)
}

async fn connect(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, conn) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect to test database");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// The test configuration: the binary's defaults (parsed like a command
/// line, so new flags need no change here) with a smaller pool and
/// shorter timeouts.
pub fn config() -> Config {
    use clap::Parser;
    Config::parse_from([
        "scim-gateway",
        "--listen=127.0.0.1:0",
        "--database-url=host=unused",
        "--pool-size=4",
        "--pool-timeout-ms=2000",
        "--statement-timeout-ms=10000",
        "--max-body-bytes=1100000",
        "--base-path=/scim/v2",
    ])
}

pub struct Gateway {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    handle: JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    /// Starts the gateway in-process on an ephemeral port.
    pub async fn start(pg: tokio_postgres::Config, config: Config) -> Gateway {
        Self::start_with(pg, config, |_| {}).await
    }

    /// Like `start`, with a last chance to adjust the request state.
    pub async fn start_with(
        mut pg: tokio_postgres::Config,
        mut config: Config,
        tweak: impl FnOnce(&mut AppState),
    ) -> Gateway {
        config.validate().expect("valid config");
        config.apply_session_settings(&mut pg);
        let pool = build_pool(pg, &config);
        let listener = TcpListener::bind(config.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let mut state = AppState::new(pool, &config);
        tweak(&mut state);
        let handle = tokio::spawn(serve(listener, state, async {
            let _ = rx.await;
        }));
        Gateway {
            addr,
            shutdown: Some(tx),
            handle,
        }
    }

    /// Triggers graceful shutdown and waits for the server to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.handle)
            .await
            .expect("gateway stops within 10 s")
            .unwrap()
            .unwrap();
    }

    pub fn shutdown_handle(&mut self) -> oneshot::Sender<()> {
        self.shutdown.take().unwrap()
    }

    pub async fn join(self) -> std::io::Result<()> {
        self.handle.await.unwrap()
    }

    pub async fn request(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        request(self.addr, method, uri, headers, body.into()).await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.request("GET", uri, &[], Bytes::new()).await
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts a SCIM error body with the given status.
    pub fn assert_scim_error(&self, status: u16) -> serde_json::Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/scim+json"));
        let v = self.json();
        assert_eq!(
            v["schemas"],
            serde_json::json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
        assert_eq!(v["status"], serde_json::json!(status.to_string()));
        assert!(v["detail"].is_string());
        v
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}
