//! Registered extension schemas (sql/extensions.sql): registration with
//! validation (`scim_core::extension`), and the tenant's resource types
//! that every operation works with.

use crate::spi;
use pgrx::JsonB;
use scim_core::extension::{self, Registered};
use scim_core::filter::{self, FOLD_SQL};
use scim_core::schema::{
    AttrDef, AttrScope, ResolvedAttr, ResourceKind, ResourceTypeDef, SchemaDef, GROUP_TYPE,
    USER_TYPE,
};
use scim_core::{ScimError, ScimResult};
use serde_json::Value;

const TENANT_SCHEMAS: &str = "SELECT definition, required FROM scim.extension_schemas \
WHERE tenant_id = $1 AND resource_type = $2 ORDER BY urn";

fn base(kind: ResourceKind) -> &'static ResourceTypeDef {
    match kind {
        ResourceKind::User => &USER_TYPE,
        ResourceKind::Group => &GROUP_TYPE,
    }
}

/// The resource type `rt` as `tenant` has it: the built-in one plus the
/// tenant's registered extensions. Every operation asks, so the versions of
/// the definitions are read directly through the primary key (no
/// statement: `spi::direct`); the definitions themselves are read and
/// built only the first time this backend meets a version.
pub fn tenant_type(
    tenant: pgrx::Uuid,
    rt: &ResourceTypeDef,
) -> ScimResult<&'static ResourceTypeDef> {
    let base = base(rt.kind);
    let args = || [tenant.into(), base.name.into()];
    let key = versions_key(tenant, base)?;
    extension::tenant_type_keyed(base, &key, &mut || {
        let mut registered = Vec::new();
        spi::for_each_row(TENANT_SCHEMAS, &args(), |row| {
            if let (Some(definition), Some(required)) = (row.json(1)?, row.get::<bool>(2)) {
                registered.push(Registered {
                    definition,
                    required,
                });
            }
            Ok(())
        })?;
        Ok(registered)
    })
}

/// What identifies the tenant's definitions of `base` as this snapshot
/// sees them: each row's (urn, xmin, required). xmin changes with every
/// update of a row and a rolled-back one is never reused, so equal keys
/// mean equal definitions. Empty when the tenant has none.
fn versions_key(tenant: pgrx::Uuid, base: &ResourceTypeDef) -> ScimResult<String> {
    let mut key = String::new();
    spi::direct::for_each_tenant_row(
        c"extension_schemas",
        c"extension_schemas_pkey",
        tenant,
        &[c"resource_type", c"urn", c"required"],
        |row| {
            if row.text(0).as_deref() != Some(base.name) {
                return;
            }
            key.push('|');
            key.push_str(&row.text(1).unwrap_or_default());
            key.push('|');
            key.push_str(&row.xmin().to_string());
            key.push_str(if row.bool(2) == Some(true) {
                "|1"
            } else {
                "|0"
            });
        },
    )?;
    if !key.is_empty() {
        // definitions are per tenant: the same row versions never name another's
        key.insert_str(0, &super::uuid_text(&tenant));
    }
    Ok(key)
}

/// Both resource types of `tenant` (discovery).
pub fn tenant_types(tenant: pgrx::Uuid) -> ScimResult<Vec<&'static ResourceTypeDef>> {
    Ok(vec![
        tenant_type(tenant, &USER_TYPE)?,
        tenant_type(tenant, &GROUP_TYPE)?,
    ])
}

/// Register or update an extension schema of `rt` for `tenant`; returns
/// its Schema resource.
pub fn put(
    tenant: pgrx::Uuid,
    rt: &ResourceTypeDef,
    definition: &Value,
    required: bool,
) -> ScimResult<Value> {
    let base = base(rt.kind);
    let limits = crate::settings::extension_limits();
    let canonical = extension::validate_definition(base, definition, &limits)?;
    let urn = canonical
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    // One registration at a time per tenant (the count limit and the
    // prefix check read the others).
    spi::run(
        "SELECT pg_advisory_xact_lock(hashtext('scim.extension_schemas:' || $1::text))",
        &[tenant.into()],
    )?;
    // Every registered URN of the tenant, (urn, resource type, definition).
    let mut existing: Vec<(String, String, Value)> = Vec::new();
    spi::for_each_row(
        "SELECT urn, resource_type, definition FROM scim.extension_schemas WHERE tenant_id = $1 ORDER BY urn FOR UPDATE",
        &[tenant.into()],
        |row| {
            if let (Some(u), Some(t), Some(d)) =
                (row.get::<String>(1), row.get::<String>(2), row.json(3)?)
            {
                existing.push((u, t, d));
            }
            Ok(())
        },
    )?;
    let lower = urn.to_ascii_lowercase();
    let same = existing
        .iter()
        .find(|(u, _, _)| u.to_ascii_lowercase() == lower);
    match same {
        Some((u, t, old)) => {
            if u != &urn {
                return Err(ScimError::invalid_value(format!(
                    "schema '{urn}' is registered as '{u}'; use that spelling"
                )));
            }
            if t != base.name {
                return Err(ScimError::uniqueness(format!(
                    "schema '{urn}' is registered for {t} resources"
                )));
            }
            if let Some(why) = extension::incompatible_change(old, &canonical) {
                return Err(ScimError::invalid_value(format!("schema '{urn}': {why}")));
            }
            let table = super::rows::table(base);
            for gone in extension::removed_attributes(old, &canonical) {
                let used: Option<bool> = spi::one(
                    &format!(
                        "SELECT EXISTS (SELECT 1 FROM {table} WHERE tenant_id = $1 AND resource->$2 ? $3)"
                    ),
                    &[tenant.into(), urn.as_str().into(), gone.as_str().into()],
                )?;
                if used == Some(true) {
                    return Err(ScimError::new(
                        409,
                        Some(scim_core::ScimType::Mutability),
                        format!("schema '{urn}': attribute '{gone}' still has data and cannot be removed"),
                    ));
                }
            }
        }
        None => {
            if existing.len() >= limits.max_schemas {
                return Err(scim_core::limits::exceeded(
                    "scim.max_extension_schemas",
                    limits.max_schemas,
                    "extension schemas of one tenant",
                    existing.len() + 1,
                ));
            }
            // `urn:a:b` and `urn:a:b:c` would make `urn:a:b:c:x` ambiguous.
            let clash = existing.iter().find(|(u, _, _)| {
                let o = u.to_ascii_lowercase();
                lower.starts_with(&format!("{o}:")) || o.starts_with(&format!("{lower}:"))
            });
            if let Some((u, _, _)) = clash {
                return Err(ScimError::invalid_value(format!(
                    "schema '{urn}' and the registered '{u}' would make attribute paths ambiguous (one is a prefix of the other)"
                )));
            }
        }
    }
    spi::run(
        "INSERT INTO scim.extension_schemas (tenant_id, urn, resource_type, required, definition) \
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, urn) DO UPDATE \
SET required = EXCLUDED.required, definition = EXCLUDED.definition, last_modified = clock_timestamp()",
        &[
            tenant.into(),
            urn.as_str().into(),
            base.name.into(),
            required.into(),
            JsonB(canonical.clone()).into(),
        ],
    )?;
    let rt = tenant_type(tenant, base)?;
    rt.extension(&urn)
        .map(|s| s.to_json())
        .ok_or_else(|| ScimError::new(500, None, "registered schema not found"))
}

/// The registered attributes of `rt` that declare `uniqueness`
/// "server"/"global", with their schema.
pub fn unique_attributes(
    rt: &ResourceTypeDef,
) -> impl Iterator<Item = (&'static SchemaDef, &'static AttrDef)> + '_ {
    rt.extensions.iter().flat_map(|(ext, _)| {
        ext.attributes
            .iter()
            .filter(|a| a.registered && a.uniqueness != scim_core::schema::Uniqueness::None)
            .map(move |a| (*ext, a))
    })
}

/// Whether `rt` has any attribute [`check_unique`] checks.
pub fn has_unique_attributes(rt: &ResourceTypeDef) -> bool {
    unique_attributes(rt).next().is_some()
}

/// How a value of a unique attribute is compared, over a row `r`: the
/// expression and the bound value ($n), in the filter compiler's spelling
/// (`filter::extension_text`/`extension_value`); for strings that is the
/// expression `scim_extension_index` indexes, so the lookup uses that index.
pub fn unique_key(
    ext: &'static SchemaDef,
    a: &'static AttrDef,
    v: &Value,
    n: usize,
) -> (String, String) {
    let attr = ResolvedAttr {
        scope: AttrScope::Extension(ext.id),
        attr: a,
        sub: None,
    };
    let text = filter::extension_text(&attr);
    match v {
        Value::String(s) if !a.case_exact => (
            format!("{FOLD_SQL}({text}) = ${n}"),
            scim_core::casefold::fold_case(s).into_owned(),
        ),
        Value::String(s) => (format!("{text} = ${n}"), s.clone()),
        other => (
            format!("({}) = ${n}::jsonb", filter::extension_value(&attr)),
            other.to_string(),
        ),
    }
}

/// Serialise the writers of one unique attribute of the tenant until
/// commit (transaction-level advisory lock).
pub fn lock_unique(
    tenant: pgrx::Uuid,
    rt: &ResourceTypeDef,
    ext: &SchemaDef,
    a: &AttrDef,
) -> ScimResult<()> {
    let key = format!(
        "{}:{}:{}:{}",
        super::uuid_text(&tenant),
        super::rows::table(rt),
        ext.id,
        a.name
    );
    spi::run(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[key.as_str().into()],
    )
}

/// `uniqueness` "server"/"global" of registered attributes: no other
/// resource of the tenant may hold an equal value (case-insensitively
/// unless caseExact). Runs after the write, in its transaction, under a
/// transaction-level advisory lock per attribute, so two writers racing
/// on one value serialise and the second sees the first (409). The lookup
/// uses the attribute's `scim_extension_index` when there is one (without
/// it, a scan of the tenant's rows).
pub fn check_unique(tenant: pgrx::Uuid, rt: &ResourceTypeDef, written: &Value) -> ScimResult<()> {
    let table = super::rows::table(rt);
    for (ext, a) in unique_attributes(rt) {
        let Some(v) = written.get(ext.id).and_then(|e| e.get(a.name)) else {
            continue;
        };
        let (key, value) = unique_key(ext, a, v, 2);
        lock_unique(tenant, rt, ext, a)?;
        let n: Option<i64> = spi::one(
            &format!("SELECT count(*) FROM {table} r WHERE r.tenant_id = $1 AND {key}"),
            &[tenant.into(), value.as_str().into()],
        )?;
        if n.unwrap_or(0) > 1 {
            return Err(taken(ext, a, v));
        }
    }
    Ok(())
}

/// 409: a unique attribute's value is held by another resource.
pub fn taken(ext: &SchemaDef, a: &AttrDef, v: &Value) -> ScimError {
    ScimError::uniqueness(format!("'{}:{}' {} is already in use", ext.id, a.name, v))
}
