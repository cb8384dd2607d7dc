//! scim_pg: a SCIM 2.0 service provider (RFC 7643/7644) and a group-based
//! policy engine inside PostgreSQL.
//!
//! Layout: pure SCIM logic (schemas, validation, filter and PATCH engines,
//! policy merge, HTTP routing and responses) lives in the `scim_core`
//! crate. This crate is the Postgres side: `spi` (the one way to run SQL),
//! `store` (tables), `service` (every operation, tenant explicit),
//! `sql_api` (the `#[pg_extern]` wrappers), `http` (`scim_http`), `policy`,
//! `auth`/`session` (credentials), `settings` (GUCs), `error` (SCIM error →
//! SQL error).

::pgrx::pg_module_magic!(name, version);

pub mod api_tenant;
pub mod auth;
pub mod credentials_http;
pub mod error;
pub mod fold;
pub mod http;
pub mod library;
pub mod malloc_tuning;
pub mod oauth;
pub mod policy;
pub mod provisioning_log;
pub mod request_context;
pub mod secrets;
pub mod service;
pub mod session;
pub mod settings;
pub mod spi;
pub mod sql_api;
pub mod store;
pub mod subtransaction;
pub mod triggers;

/// Library load: one scim_pg library per session (src/library.rs),
/// settings, and Postgres' interrupt check as the cancellation point of
/// scim_core's client-sized loops (so `statement_timeout` and
/// `pg_cancel_backend` stop them).
#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    library::claim_session();
    settings::register();
    malloc_tuning::register();
    provisioning_log::register();
    scim_core::interrupt::set_hook(check_for_interrupts);
}

fn check_for_interrupts() {
    pgrx::pg_sys::check_for_interrupts!();
}

// The hand-written SQL, one file per concern, in dependency order
// (pgrx places each file after what it `requires`). storage.sql runs first
// (schema, roles, tables); grants.sql last, over every function made.
pgrx::extension_sql_file!("../sql/storage.sql", name = "storage", bootstrap);
pgrx::extension_sql_file!(
    "../sql/fold.sql",
    name = "fold",
    requires = ["storage", fold::scim_fold_text, fold::scim_fold_version]
);
pgrx::extension_sql_file!(
    "../sql/optional_indexes.sql",
    name = "optional_indexes",
    requires = ["storage", fold::scim_fold_text]
);
pgrx::extension_sql_file!(
    "../sql/triggers.sql",
    name = "triggers",
    requires = ["storage", fold::scim_fold_text]
);
pgrx::extension_sql_file!("../sql/render.sql", name = "render", requires = ["storage"]);
pgrx::extension_sql_file!(
    "../sql/credentials.sql",
    name = "credentials",
    requires = ["storage"]
);
pgrx::extension_sql_file!(
    "../sql/tenant_admin.sql",
    name = "tenant_admin",
    requires = ["credentials"]
);
pgrx::extension_sql_file!(
    "../sql/policy_admin.sql",
    name = "policy_admin",
    requires = ["storage"]
);
pgrx::extension_sql_file!(
    "../sql/policy_notify.sql",
    name = "policy_notify",
    requires = ["policy_admin", "triggers"]
);
pgrx::extension_sql_file!(
    "../sql/changes.sql",
    name = "changes",
    requires = ["storage", "triggers"]
);
pgrx::extension_sql_file!(
    "../sql/extensions.sql",
    name = "extensions",
    requires = ["storage", "fold"]
);
pgrx::extension_sql_file!(
    "../sql/policy_attributes.sql",
    name = "policy_attributes",
    requires = ["extensions", "policy_notify"]
);
pgrx::extension_sql_file!(
    "../sql/provisioning_log.sql",
    name = "provisioning_log",
    requires = ["changes"]
);
pgrx::extension_sql_file!(
    "../sql/rls.sql",
    name = "rls",
    requires = [
        "credentials",
        "policy_notify",
        "changes",
        "provisioning_log",
        "extensions",
        "policy_attributes"
    ]
);
pgrx::extension_sql_file!("../sql/http.sql", name = "http", requires = ["storage"]);
pgrx::extension_sql_file!("../sql/grants.sql", name = "grants", finalize);

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
