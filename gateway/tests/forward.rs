//! Forwarding contract: what goes into scim.scim_http() and what comes back.

mod common;

use std::time::{Duration, Instant};

use common::{config, stub_db, Gateway};
use serde_json::json;

macro_rules! stub_or_skip {
    ($name:expr) => {
        match stub_db($name).await {
            Some(db) => db,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_method_path_query_headers_body_exactly() {
    let db = stub_or_skip!("forwards_method_path_query_headers_body_exactly");
    let gw = Gateway::start(db, config()).await;

    // Body is passed as raw text: odd spacing, key order and even invalid
    // JSON survive untouched.
    let body = "{ \"userName\":\"bjensen\" ,\n \"b\": [1,2],\"a\":\"\u{e9}\u{1F600}\" }";
    let r = gw
        .request(
            "PUT",
            "/scim/v2/Users/2819c223-7f76?filter=userName%20eq%20%22bjensen%22&count=5&x=",
            &[
                ("Authorization", "Bearer tok-123"),
                ("If-Match", "W/\"3\""),
                ("Content-Type", "application/scim+json"),
                ("X-Mixed-Case", "Value With Spaces"),
                ("x-repeat", "one"),
                ("x-repeat", "two"),
            ],
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(r.header("x-stub"), Some("echo"));
    let echo = r.json();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["path"], "/Users/2819c223-7f76");
    assert_eq!(
        echo["query"],
        "filter=userName%20eq%20%22bjensen%22&count=5&x="
    );
    assert_eq!(echo["body"], body);
    let h = echo["headers"].as_object().unwrap();
    assert_eq!(h["authorization"], "Bearer tok-123");
    assert_eq!(h["if-match"], "W/\"3\"");
    assert_eq!(h["content-type"], "application/scim+json");
    assert_eq!(h["x-mixed-case"], "Value With Spaces");
    assert_eq!(h["x-repeat"], "one, two");
    assert_eq!(h["content-length"], body.len().to_string());
    assert!(h.keys().all(|k| k == &k.to_lowercase()));

    // Not JSON at all: still forwarded (the SQL side answers invalidSyntax).
    let r = gw.request("POST", "/scim/v2/Users", &[], "{not json").await;
    assert_eq!(r.json()["body"], "{not json");
    assert_eq!(r.json()["method"], "POST");

    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_relative_to_base_and_empty_parts() {
    let db = stub_or_skip!("path_relative_to_base_and_empty_parts");
    let gw = Gateway::start(db, config()).await;

    for (uri, path) in [
        ("/scim/v2", "/"),
        ("/scim/v2/", "/"),
        ("/scim/v2/ServiceProviderConfig", "/ServiceProviderConfig"),
        ("/scim/v2/Users/a%2Fb%20c", "/Users/a%2Fb%20c"),
        ("/scim/v2/.search", "/.search"),
    ] {
        let r = gw.get(uri).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.text());
        let echo = r.json();
        assert_eq!(echo["path"], path, "{uri}");
        assert_eq!(echo["query"], "", "{uri}");
        assert_eq!(echo["body"], json!(null), "{uri}: empty body is NULL");
        assert_eq!(echo["method"], "GET");
    }
    let r = gw.request("DELETE", "/scim/v2/Groups/g1?", &[], "").await;
    assert_eq!(r.json()["method"], "DELETE");
    assert_eq!(r.json()["query"], "");
    let r = gw.request("PATCH", "/scim/v2/Groups/g1", &[], "{}").await;
    assert_eq!(r.json()["method"], "PATCH");
    assert_eq!(r.json()["body"], "{}");

    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_base_path() {
    let db = stub_or_skip!("custom_base_path");
    let mut cfg = config();
    cfg.base_path = "/tenant-a/scim/".into();
    let gw = Gateway::start(db, cfg).await;
    let r = gw.get("/tenant-a/scim/Users?count=1").await;
    assert_eq!(r.json()["path"], "/Users");
    assert_eq!(r.json()["query"], "count=1");
    gw.get("/scim/v2/Users").await.assert_scim_error(404);
    gw.stop().await;
}

/// The public base URL reaches scim_http as the session setting from
/// --public-url, whatever Host / X-Forwarded-* / X-Scim-Base-Url the client
/// sends (those are forwarded as ordinary headers, which scim_http ignores).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_url_comes_from_configuration_only() {
    let db = stub_or_skip!("public_url_comes_from_configuration_only");
    let spoof: &[(&str, &str)] = &[
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "evil.example"),
        ("X-Scim-Base-Url", "https://evil.example/x"),
    ];
    let gw = Gateway::start(db.clone(), config()).await;
    let r = gw.request("GET", "/scim/v2/Users", spoof, "").await;
    assert_eq!(r.json()["public_url"], json!(null), "{}", r.text());
    assert!(r.json()["headers"].get("x-scim-base-path").is_none());
    gw.stop().await;

    let mut cfg = config();
    cfg.public_url = Some("https://scim.example.test/scim/v2/".into());
    let gw = Gateway::start(db, cfg).await;
    let r = gw.request("GET", "/scim/v2/Users", spoof, "").await;
    assert_eq!(r.json()["public_url"], "https://scim.example.test/scim/v2");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_headers_body_come_back_exactly() {
    let db = stub_or_skip!("status_headers_body_come_back_exactly");
    let gw = Gateway::start(db, config()).await;

    let r = gw.request("POST", "/scim/v2/created", &[], "{}").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(
        r.header("location"),
        Some("https://example.test/scim/v2/Users/42")
    );
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    // jsonb's own text rendering, byte for byte.
    assert_eq!(r.text(), r#"{"id": "42", "meta": {"version": "W/\"1\""}}"#);

    let r = gw.request("DELETE", "/scim/v2/nocontent", &[], "").await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-type"), None);

    let r = gw.get("/scim/v2/notmodified").await;
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some("W/\"7\""));

    let r = gw.get("/scim/v2/multi").await;
    assert_eq!(r.status, 200);
    let multi: Vec<_> = r.headers.get_all("x-multi").iter().collect();
    assert_eq!(multi, ["a", "b"]);
    assert_eq!(r.header("x-num"), Some("3"));
    assert_eq!(r.text(), "[]");

    // HEAD: status and headers, no body.
    let r = gw.request("HEAD", "/scim/v2/created", &[], "").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    assert!(r.body.is_empty());

    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_errors_are_500_with_generic_detail() {
    let db = stub_or_skip!("sql_errors_are_500_with_generic_detail");
    let gw = Gateway::start(db, config()).await;
    for path in ["/scim/v2/raise", "/scim/v2/badstatus", "/scim/v2/badheader"] {
        let r = gw.get(path).await;
        let v = r.assert_scim_error(500);
        assert!(!r.text().contains("secret"), "{path}: {v}");
    }
    // The pool is still healthy afterwards.
    assert_eq!(gw.get("/scim/v2/Users").await.status, 200);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_body_is_413() {
    let db = stub_or_skip!("oversize_body_is_413");
    let mut cfg = config();
    cfg.max_body_bytes = 1000;
    let gw = Gateway::start(db, cfg).await;

    let exact = "x".repeat(1000);
    let r = gw
        .request("POST", "/scim/v2/Users", &[], exact.clone())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body"], exact);

    let r = gw
        .request("POST", "/scim/v2/Users", &[], "x".repeat(1001))
        .await;
    r.assert_scim_error(413);
    // The unread body ends the connection: the client is told not to reuse it.
    assert_eq!(r.header("connection"), Some("close"));

    // Chunked (no Content-Length): caught while reading.
    let r = chunked_post(gw.addr, "/scim/v2/Users", 20, 100).await;
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    assert!(
        r.contains("urn:ietf:params:scim:api:messages:2.0:Error"),
        "{r}"
    );
    let r = chunked_post(gw.addr, "/scim/v2/Users", 2, 100).await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");

    gw.stop().await;
}

/// Sends `chunks` chunks of `size` bytes with Transfer-Encoding: chunked and
/// returns the raw response.
async fn chunked_post(
    addr: std::net::SocketAddr,
    path: &str,
    chunks: usize,
    size: usize,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let chunk = format!("{size:x}\r\n{}\r\n", "y".repeat(size));
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        for _ in 0..chunks {
            wr.write_all(chunk.as_bytes()).await?;
        }
        wr.write_all(b"0\r\n\r\n").await?;
        wr.flush().await?;
        Ok::<_, std::io::Error>(wr)
    });
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), rd.read_to_end(&mut out)).await;
    let _ = writer.await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_that_is_not_text_is_400() {
    let db = stub_or_skip!("body_that_is_not_text_is_400");
    let gw = Gateway::start(db, config()).await;
    let r = gw
        .request("POST", "/scim/v2/Users", &[], vec![b'{', 0xff, 0xfe, b'}'])
        .await;
    assert_eq!(r.assert_scim_error(400)["scimType"], "invalidSyntax");
    let r = gw
        .request("POST", "/scim/v2/Users", &[], "{\"a\":\"\0\"}")
        .await;
    assert_eq!(r.assert_scim_error(400)["scimType"], "invalidSyntax");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_base_path_is_404_and_healthz_is_ok() {
    let db = stub_or_skip!("outside_base_path_is_404_and_healthz_is_ok");
    let gw = Gateway::start(db, config()).await;
    for uri in [
        "/",
        "/scim",
        "/scim/v2x",
        "/scim/v1/Users",
        "/Users",
        "/healthz/x",
    ] {
        gw.get(uri).await.assert_scim_error(404);
    }
    gw.request("POST", "/other", &[], "{}")
        .await
        .assert_scim_error(404);
    let r = gw.get("/healthz").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ok");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_exhausted_is_503_not_a_hang() {
    let db = stub_or_skip!("pool_exhausted_is_503_not_a_hang");
    let mut cfg = config();
    cfg.pool_size = 1;
    cfg.pool_timeout_ms = 300;
    let gw = Gateway::start(db, cfg).await;
    // Warm the single connection so the sleeper doesn't pay for connecting.
    assert_eq!(gw.get("/scim/v2/Users").await.status, 200);

    let addr = gw.addr;
    let sleeper = tokio::spawn(async move {
        common::request(addr, "GET", "/scim/v2/sleep?2", &[], Default::default()).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    let r = gw.get("/scim/v2/Users").await;
    let waited = start.elapsed();
    r.assert_scim_error(503);
    assert!(waited < Duration::from_millis(1500), "took {waited:?}");
    let r = gw.get("/healthz").await;
    assert_eq!(r.status, 503);

    let slept = sleeper.await.unwrap();
    assert_eq!(slept.status, 200);
    assert_eq!(slept.json(), json!({"slept": true}));
    assert_eq!(gw.get("/scim/v2/Users").await.status, 200);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_is_503() {
    let db = stub_or_skip!("statement_timeout_is_503");
    let mut cfg = config();
    cfg.statement_timeout_ms = 300;
    cfg.pool_size = 1;
    let gw = Gateway::start(db, cfg).await;
    let start = Instant::now();
    gw.get("/scim/v2/sleep?5").await.assert_scim_error(503);
    assert!(start.elapsed() < Duration::from_secs(3));
    // The same (single) connection serves the next request.
    assert_eq!(gw.get("/scim/v2/Users").await.status, 200);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_watchdog_is_503_and_drops_the_busy_connection() {
    let db = stub_or_skip!("gateway_watchdog_is_503_and_drops_the_busy_connection");
    let mut cfg = config();
    cfg.statement_timeout_ms = 0; // no server-side limit: only the watchdog
    cfg.pool_size = 1;
    let gw = Gateway::start_with(db, cfg, |state| {
        state.watchdog = Some(Duration::from_millis(300));
    })
    .await;
    let start = Instant::now();
    gw.get("/scim/v2/sleep?3").await.assert_scim_error(503);
    assert!(start.elapsed() < Duration::from_secs(2));
    // The busy connection left the pool; a fresh one answers at once.
    let start = Instant::now();
    assert_eq!(gw.get("/scim/v2/Users").await.status, 200);
    assert!(start.elapsed() < Duration::from_secs(2));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_database_is_503() {
    // Needs no database: a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut pg = tokio_postgres::Config::new();
    pg.host("127.0.0.1").port(port).user("postgres").dbname("x");
    let mut cfg = config();
    cfg.pool_timeout_ms = 500;
    let gw = Gateway::start(pg, cfg).await;
    let start = Instant::now();
    gw.request("POST", "/scim/v2/Users", &[], "{}")
        .await
        .assert_scim_error(503);
    assert!(start.elapsed() < Duration::from_secs(3));
    let r = gw.get("/healthz").await;
    assert_eq!(r.status, 503);
    gw.get("/nope").await.assert_scim_error(404);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let db = stub_or_skip!("graceful_shutdown_finishes_in_flight_requests");
    let mut gw = Gateway::start(db, config()).await;
    let addr = gw.addr;
    let in_flight = tokio::spawn(async move {
        common::request(addr, "GET", "/scim/v2/sleep?1", &[], Default::default()).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = gw.shutdown_handle().send(());
    let r = in_flight.await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"slept": true}));
    tokio::time::timeout(Duration::from_secs(5), gw.join())
        .await
        .expect("server stops after the in-flight request")
        .unwrap();
    // No longer accepting.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// Active statements of the gateway connections named `disconnect-test`.
async fn running_statements(pg: &tokio_postgres::Client) -> i64 {
    pg.query_one(
        "SELECT count(*) FROM pg_stat_activity
          WHERE state = 'active' AND application_name = 'disconnect-test'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

async fn wait_for(pg: &tokio_postgres::Client, want: i64, within: Duration) -> Duration {
    let start = Instant::now();
    while running_statements(pg).await != want {
        assert!(
            start.elapsed() < within,
            "still not {want} running statements after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_cancels_the_statement() {
    let db = stub_or_skip!("client_disconnect_cancels_the_statement");
    let mut cfg = config();
    cfg.statement_timeout_ms = 0; // nothing else would stop it
    let mut named = db.clone();
    named.application_name("disconnect-test");
    let gw = Gateway::start(named, cfg).await;
    let (pg, conn) = db.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);

    let mut client = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut client,
        b"GET /scim/v2/sleep?30 HTTP/1.1\r\nhost: test\r\n\r\n",
    )
    .await
    .unwrap();
    wait_for(&pg, 1, Duration::from_secs(5)).await;
    drop(client); // the client goes away mid-request
    let took = wait_for(&pg, 0, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(1), "cancelled after {took:?}");
    // The connection is usable again (it returned once its statement ended).
    assert_eq!(gw.get("/scim/v2/Users").await.status, 200);
    gw.stop().await;
}
