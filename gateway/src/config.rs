//! Command-line / environment configuration.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// Runtime configuration of the gateway. Every flag can also be given through
/// the environment variable named in `--help`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "scim-gateway",
    version,
    about = "Forwards SCIM 2.0 HTTP requests to scim.scim_http() in PostgreSQL"
)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "SCIM_GATEWAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// PostgreSQL connection string (URL or key=value form). TLS is not
    /// supported: run the gateway next to the database or use a Unix socket.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// Maximum number of pooled database connections.
    #[arg(long, env = "SCIM_GATEWAY_POOL_SIZE", default_value_t = 8)]
    pub pool_size: usize,

    /// How long a request may wait for (or to open) a database connection
    /// before it is answered with 503.
    #[arg(long, env = "SCIM_GATEWAY_POOL_TIMEOUT_MS", default_value_t = 5000)]
    pub pool_timeout_ms: u64,

    /// Server-side statement_timeout for every connection; the gateway gives up
    /// (503) one second later. 0 disables both.
    #[arg(
        long,
        env = "SCIM_GATEWAY_STATEMENT_TIMEOUT_MS",
        default_value_t = 30000
    )]
    pub statement_timeout_ms: u64,

    /// Largest accepted request body; larger bodies get 413.
    #[arg(long, env = "SCIM_GATEWAY_MAX_BODY_BYTES", default_value_t = 1_100_000)]
    pub max_body_bytes: usize,

    /// URL prefix under which SCIM requests are accepted.
    #[arg(long, env = "SCIM_GATEWAY_BASE_PATH", default_value = "/scim/v2")]
    pub base_path: String,

    /// Public base URL of the SCIM service as clients reach it (e.g.
    /// https://scim.example.com/scim/v2): Location, meta.location and $ref
    /// are made absolute with it (session setting scim.public_url). Never
    /// derived from request headers; unset, the URLs are relative.
    #[arg(long, env = "SCIM_GATEWAY_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// A hot standby of the database (streaming replication): reads go
    /// there, writes and a credential's reads right after its own writes
    /// go to the primary (see `replica.rs`).
    #[arg(long, env = "SCIM_GATEWAY_REPLICA_URL", hide_env_values = true)]
    pub replica_url: Option<String>,

    /// Add `X-Scim-Served-By: primary|replica` to responses (debugging).
    #[arg(long, env = "SCIM_GATEWAY_SERVED_BY_HEADER")]
    pub served_by_header: bool,

    /// Which requests get an access-log line on stderr: `errors` (status
    /// 500 and above, and requests slower than --slow-request-ms), `all`,
    /// or `off`.
    #[arg(long, env = "SCIM_GATEWAY_ACCESS_LOG", value_enum, default_value_t = AccessLog::Errors)]
    pub access_log: AccessLog,

    /// A request slower than this is logged with `--access-log errors`.
    #[arg(long, env = "SCIM_GATEWAY_SLOW_REQUEST_MS", default_value_t = 1000)]
    pub slow_request_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AccessLog {
    Errors,
    All,
    Off,
}

impl Config {
    /// Checks the values and normalises `base_path` (no trailing slash; "/"
    /// becomes "", which forwards every path except `/healthz`).
    pub fn validate(&mut self) -> Result<(), String> {
        if self.pool_size == 0 {
            return Err("--pool-size must be at least 1".into());
        }
        if self.pool_timeout_ms == 0 {
            return Err("--pool-timeout-ms must be at least 1".into());
        }
        if !self.base_path.starts_with('/') {
            return Err("--base-path must start with '/'".into());
        }
        let trimmed = self.base_path.trim_end_matches('/').len();
        self.base_path.truncate(trimmed);
        if let Some(url) = &mut self.public_url {
            let plausible = (url.starts_with("https://") || url.starts_with("http://"))
                && !url
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\');
            if !plausible {
                return Err("--public-url must be an http(s) URL without spaces or quotes".into());
            }
            let trimmed = url.trim_end_matches('/').len();
            url.truncate(trimmed);
        }
        self.pg_config()?;
        self.replica_pg_config()?;
        Ok(())
    }

    pub fn pool_timeout(&self) -> Duration {
        Duration::from_millis(self.pool_timeout_ms)
    }

    /// Parses `database_url` and adds the gateway's session settings.
    pub fn pg_config(&self) -> Result<tokio_postgres::Config, String> {
        let mut pg: tokio_postgres::Config = self
            .database_url
            .parse()
            .map_err(|e| format!("invalid database URL: {e}"))?;
        self.apply_session_settings(&mut pg);
        Ok(pg)
    }

    /// The same for `replica_url`, if given.
    pub fn replica_pg_config(&self) -> Result<Option<tokio_postgres::Config>, String> {
        let Some(url) = &self.replica_url else {
            return Ok(None);
        };
        let mut pg: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("invalid replica URL: {e}"))?;
        self.apply_session_settings(&mut pg);
        Ok(Some(pg))
    }

    /// Sets `statement_timeout` and `scim.public_url` (appended to any
    /// `options` already given) and a default `application_name`.
    pub fn apply_session_settings(&self, pg: &mut tokio_postgres::Config) {
        let mut extra = Vec::new();
        if self.statement_timeout_ms > 0 {
            extra.push(format!(
                "-c statement_timeout={}",
                self.statement_timeout_ms
            ));
        }
        if let Some(url) = &self.public_url {
            // validate() rejected spaces and backslashes: no escaping needed.
            extra.push(format!("-c scim.public_url={url}"));
        }
        if !extra.is_empty() {
            let extra = extra.join(" ");
            let options = match pg.get_options() {
                Some(o) if !o.is_empty() => format!("{o} {extra}"),
                _ => extra,
            };
            pg.options(&options);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("scim-gateway");
        }
    }
}
