//! Rust code in a sub-transaction, as PL/pgSQL's `BEGIN … EXCEPTION`
//! block runs its body: on success the sub-transaction is released (its
//! writes kept), on a SCIM error or any SQL error raised inside it rolled
//! back (nothing of it kept) — and the caller goes on in the outer
//! transaction with the error as a value. Like `WHEN OTHERS`, a cancel
//! is not caught: it rolls the sub-transaction back and goes on up.

use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::prelude::*;
use scim_core::{ScimError, ScimResult};
use std::panic::AssertUnwindSafe;

/// Why the sub-transaction was rolled back.
pub enum Failure {
    /// `f` returned a SCIM error.
    Scim(ScimError),
    /// A SQL error was raised (ours carry SCIM status in `detail`, see
    /// src/error.rs), or Rust panicked.
    Sql {
        sqlstate: String,
        message: String,
        detail: Option<String>,
    },
}

/// Run `f` in a sub-transaction of the current transaction.
pub fn run<T>(f: impl FnOnce() -> ScimResult<T>) -> Result<T, Failure> {
    // SAFETY: the sequence PL/pgSQL uses (pl_exec.c, exec_stmt_block):
    // begin, switch back to the caller's memory context, run; then release
    // or roll back, restore the memory context and resource owner. A
    // caught error has been copied and flushed by pgrx before we roll back,
    // and no SQL runs between the error and the rollback.
    unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        let outcome = PgTryBuilder::new(AssertUnwindSafe(|| Ok(f())))
            .catch_others(|caught| Err(Box::new(caught)))
            .execute();
        pg_sys::MemoryContextSwitchTo(context);
        let result = match outcome {
            Ok(Ok(value)) => {
                pg_sys::ReleaseCurrentSubTransaction();
                Ok(value)
            }
            Ok(Err(e)) => {
                pg_sys::RollbackAndReleaseCurrentSubTransaction();
                Err(Failure::Scim(e))
            }
            Err(caught) => {
                pg_sys::RollbackAndReleaseCurrentSubTransaction();
                let caught = *caught;
                if !catchable(&caught) {
                    pg_sys::MemoryContextSwitchTo(context);
                    pg_sys::CurrentResourceOwner = owner;
                    caught.rethrow();
                }
                Err(failure(caught))
            }
        };
        pg_sys::MemoryContextSwitchTo(context);
        pg_sys::CurrentResourceOwner = owner;
        result
    }
}

/// What PL/pgSQL's `WHEN OTHERS` catches: everything but a cancel
/// (`statement_timeout`, `pg_cancel_backend`: the statement must end, not
/// the request within it) and an assertion failure.
fn catchable(caught: &CaughtError) -> bool {
    let code = match caught {
        CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => r.sql_error_code(),
        CaughtError::RustPanic { ereport, .. } => ereport.sql_error_code(),
    };
    !matches!(
        code,
        PgSqlErrorCode::ERRCODE_QUERY_CANCELED | PgSqlErrorCode::ERRCODE_ASSERT_FAILURE
    )
}

fn failure(caught: CaughtError) -> Failure {
    let report = match &caught {
        CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => r,
        CaughtError::RustPanic { ereport, .. } => ereport,
    };
    Failure::Sql {
        sqlstate: crate::error::sqlstate_chars(report.sql_error_code()),
        message: report.message().to_string(),
        detail: report.detail().map(str::to_string),
    }
}
