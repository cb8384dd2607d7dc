//! In-process tests (`cargo pgrx test`): storage and the SQL API.

use pgrx::prelude::*;

#[pg_test]
fn creates_and_reads_a_user() {
    let v = Spi::get_one::<pgrx::JsonB>(
        "SELECT scim.scim_create_user('{\"userName\":\"Alice\",\"emails\":[{\"value\":\"A@x.com\"}]}')",
    )
    .unwrap()
    .unwrap()
    .0;
    assert_eq!(v["userName"], "Alice");
    assert_eq!(v["meta"]["version"], "W/\"1\"");
}
