//! `scim.fold(text)`: the caseless matching key of scim_core::casefold,
//! exposed to SQL so that indexes, compiled filters and the in-memory
//! evaluator share one implementation (README "Case-insensitive
//! matching").

use pgrx::prelude::*;

/// Declared by hand in sql/storage.sql (`LANGUAGE c`, symbol
/// `scim_fold_text_wrapper`, `IMMUTABLE STRICT PARALLEL SAFE`): the unique
/// indexes created there need it before pgrx's generated SQL runs.
#[pg_extern(immutable, parallel_safe, strict, sql = false)]
fn scim_fold_text(s: &str) -> String {
    scim_core::casefold::fold_case(s).into_owned()
}

/// The folding rule and Unicode data this library folds with; the
/// indexes record the one they were built with (COMMENT), and
/// `scim_fold_rebuild()` brings them in line.
#[pg_extern(immutable, parallel_safe)]
fn scim_fold_version() -> &'static str {
    scim_core::casefold::FOLD_VERSION
}
