//! Password hashing (argon2id, salted) for the writeOnly `password`.

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;
use scim_core::{ScimError, ScimResult};

pub fn hash_password(password: &str) -> ScimResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ScimError::new(500, None, format!("password hashing failed: {e}")))
}
