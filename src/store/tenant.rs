//! The current tenant (GUC `scim.tenant`, resolved by `scim.current_tenant()`).

use crate::error::spi_err;
use pgrx::prelude::*;
use scim_core::{ScimError, ScimResult};

pub fn current() -> ScimResult<pgrx::Uuid> {
    Spi::get_one::<pgrx::Uuid>("SELECT scim.current_tenant()")
        .map_err(spi_err)?
        .ok_or_else(|| ScimError::new(500, None, "no current tenant"))
}
