//! `scim-gateway` binary: configuration, startup, graceful shutdown.

use std::process::ExitCode;

use clap::Parser;
use scim_gateway::{build_pool, serve, AppState, Config};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = Config::parse();
    if let Err(e) = config.validate() {
        eprintln!("scim-gateway: {e}");
        return ExitCode::from(2);
    }
    let pg = match config.pg_config() {
        Ok(pg) => pg,
        Err(e) => {
            eprintln!("scim-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    let replica_pg = match config.replica_pg_config() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scim-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    let pool = build_pool(pg, &config);

    // Not fatal: requests get 503 until the database is reachable.
    match pool.get().await {
        Ok(_) => {}
        Err(e) => eprintln!("scim-gateway: warning: database not reachable yet: {e}"),
    }

    let listener = match TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("scim-gateway: cannot listen on {}: {e}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "scim-gateway: listening on http://{}{} (pool size {})",
        config.listen, config.base_path, config.pool_size
    );

    let mut state = AppState::new(pool.clone(), &config);
    if let Some(replica_pg) = replica_pg {
        eprintln!("scim-gateway: reads go to the replica (read-your-writes per credential)");
        state = state.with_replica(build_pool(replica_pg, &config));
    }
    let result = serve(listener, state, shutdown_signal()).await;
    pool.close();
    match result {
        Ok(()) => {
            eprintln!("scim-gateway: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scim-gateway: server error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("scim-gateway: cannot listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                eprintln!("scim-gateway: cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!("scim-gateway: shutting down, finishing in-flight requests");
}
