use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

#[pg_extern]
fn scim_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
