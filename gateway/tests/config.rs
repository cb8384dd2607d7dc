//! Configuration parsing and path mapping (no database needed).

use clap::Parser;
use scim_gateway::{relative_path, Config};

#[test]
fn defaults_and_flags() {
    let mut c =
        Config::try_parse_from(["scim-gateway", "--database-url", "postgres://u@h/db"]).unwrap();
    c.validate().unwrap();
    assert_eq!(c.pool_size, 8);
    assert_eq!(c.pool_timeout_ms, 5000);
    assert_eq!(c.max_body_bytes, 1_100_000);
    assert_eq!(c.base_path, "/scim/v2");

    let mut c = Config::try_parse_from([
        "scim-gateway",
        "--listen",
        "0.0.0.0:9000",
        "--database-url",
        "host=/var/run/postgresql port=5510 user=postgres options='-c search_path=x'",
        "--pool-size",
        "2",
        "--pool-timeout-ms",
        "100",
        "--max-body-bytes",
        "10",
        "--base-path",
        "/api/scim/",
        "--statement-timeout-ms",
        "750",
    ])
    .unwrap();
    c.validate().unwrap();
    assert_eq!(c.listen.port(), 9000);
    assert_eq!(c.base_path, "/api/scim");
    let pg = c.pg_config().unwrap();
    assert_eq!(
        pg.get_options(),
        Some("-c search_path=x -c statement_timeout=750")
    );
    assert_eq!(pg.get_application_name(), Some("scim-gateway"));

    let mut c = Config::try_parse_from([
        "scim-gateway",
        "--database-url",
        "postgres://u@h/db",
        "--public-url",
        "https://scim.example.com/scim/v2/",
    ])
    .unwrap();
    c.validate().unwrap();
    assert_eq!(
        c.pg_config().unwrap().get_options(),
        Some("-c statement_timeout=30000 -c scim.public_url=https://scim.example.com/scim/v2")
    );
}

#[test]
fn rejects_bad_values() {
    for args in [
        vec!["--database-url", "postgres://h/db", "--pool-size", "0"],
        vec!["--database-url", "postgres://h/db", "--base-path", "scim"],
        vec!["--database-url", "not a url ="],
        vec![
            "--database-url",
            "postgres://h/db",
            "--public-url",
            "evil.example",
        ],
        vec![
            "--database-url",
            "postgres://h/db",
            "--public-url",
            "https://a b",
        ],
    ] {
        let mut c =
            Config::try_parse_from(std::iter::once("scim-gateway").chain(args.clone())).unwrap();
        assert!(c.validate().is_err(), "{args:?}");
    }
}

#[test]
fn relative_paths() {
    assert_eq!(relative_path("/scim/v2", "/scim/v2"), Some("/"));
    assert_eq!(relative_path("/scim/v2", "/scim/v2/"), Some("/"));
    assert_eq!(
        relative_path("/scim/v2", "/scim/v2/Users/x"),
        Some("/Users/x")
    );
    assert_eq!(relative_path("/scim/v2", "/scim/v2x"), None);
    assert_eq!(relative_path("/scim/v2", "/scim"), None);
    assert_eq!(relative_path("", "/Users"), Some("/Users"));
    assert_eq!(relative_path("", "/"), Some("/"));
}
