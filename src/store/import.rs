//! Set-based import of users (`scim_import`): every item validated like a
//! create (`resource::normalize`), then all valid items inserted by ONE
//! statement, so the per-statement costs of a create (executor start,
//! the change-feed and policy triggers, which are statement-level) are
//! paid once per import instead of once per user. Each item gets its own
//! result: 201 and the new id, or the SCIM error a create would have
//! given (400 for an invalid resource, 409 for a userName, or a value of
//! a registered attribute declaring uniqueness, already taken or repeated
//! earlier in the same import). Nothing is written for an
//! item that fails; the others are.

use super::{extensions, users};
use crate::secrets::hash_password;
use crate::spi;
use pgrx::JsonB;
use scim_core::casefold::fold_case;
use scim_core::resource::{self, Normalized};
use scim_core::schema::{ResourceTypeDef, USER_TYPE};
use scim_core::{limits, ScimError, ScimResult};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// One item's outcome, in input order (`index` is 1-based).
pub struct ItemResult {
    pub index: i32,
    pub status: i32,
    pub id: Option<pgrx::Uuid>,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
}

fn failed(index: i32, e: &ScimError) -> ItemResult {
    ItemResult {
        index,
        status: i32::from(e.status),
        id: None,
        scim_type: e.scim_type.map(|t| t.as_str().to_string()),
        detail: Some(e.detail.clone()),
    }
}

/// The columns of the valid items, one array per column.
#[derive(Default)]
struct Batch {
    index: Vec<i32>,
    user_name: Vec<String>,
    external_id: Vec<Option<String>>,
    display_name: Vec<Option<String>>,
    active: Vec<Option<bool>>,
    emails: Vec<JsonB>,
    resource: Vec<JsonB>,
    password_hash: Vec<Option<String>>,
}

impl Batch {
    /// Keep the items whose `keep` is true (same order, every column).
    fn retain(&mut self, keep: &[bool]) {
        fn column<T>(v: &mut Vec<T>, keep: &[bool]) {
            let mut k = keep.iter();
            v.retain(|_| k.next().copied().unwrap_or(false));
        }
        column(&mut self.index, keep);
        column(&mut self.user_name, keep);
        column(&mut self.external_id, keep);
        column(&mut self.display_name, keep);
        column(&mut self.active, keep);
        column(&mut self.emails, keep);
        column(&mut self.resource, keep);
        column(&mut self.password_hash, keep);
    }
}

/// Registered attributes that declare uniqueness, as a create checks them
/// (`extensions::check_unique`): an item whose value the tenant already
/// holds, or an earlier item of this import carries, fails with 409 and
/// is not inserted. Each attribute's writers are serialised by the same
/// advisory lock as creates, held to commit.
fn reject_taken_unique_values(
    tenant: pgrx::Uuid,
    rt: &ResourceTypeDef,
    batch: &mut Batch,
    results: &mut [ItemResult],
) -> ScimResult<()> {
    let mut keep = vec![true; batch.index.len()];
    for (ext, a) in extensions::unique_attributes(rt) {
        extensions::lock_unique(tenant, rt, ext, a)?;
        let mut seen: HashSet<(String, String)> = HashSet::new();
        for ((resource, index), kept) in
            batch.resource.iter().zip(&batch.index).zip(keep.iter_mut())
        {
            pgrx::check_for_interrupts!();
            let Some(v) = resource.0.get(ext.id).and_then(|e| e.get(a.name)) else {
                continue;
            };
            if !*kept {
                continue;
            }
            let (key, value) = extensions::unique_key(ext, a, v, 2);
            let held = !seen.insert((key.clone(), value.clone()))
                || spi::one::<bool>(
                    &format!(
                        "SELECT EXISTS (SELECT 1 FROM {} r WHERE r.tenant_id = $1 AND {key})",
                        super::rows::table(rt)
                    ),
                    &[tenant.into(), value.as_str().into()],
                )? == Some(true);
            if held {
                *kept = false;
                if let Some(r) = results.iter_mut().find(|r| r.index == *index) {
                    *r = failed(*index, &extensions::taken(ext, a, v));
                }
            }
        }
    }
    batch.retain(&keep);
    Ok(())
}

/// The insert: the valid items in input order; a userName already taken
/// (or taken by an earlier item) inserts nothing for that item.
const IMPORT_SQL: &str = "\
    INSERT INTO scim.users AS r (tenant_id, user_name, external_id, display_name, active, email_values, \
                                 resource, password_hash, created, last_modified) \
    SELECT $1, u.user_name, u.external_id, u.display_name, u.active, \
           ARRAY(SELECT jsonb_array_elements_text(u.emails)), u.resource, u.password_hash, t, t \
      FROM unnest($2::int4[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::jsonb[], $8::jsonb[], $9::text[]) \
             AS u(idx, user_name, external_id, display_name, active, emails, resource, password_hash), \
           clock_timestamp() AS t \
     ORDER BY u.idx \
    ON CONFLICT DO NOTHING \
    RETURNING r.id, r.user_name";

pub fn import_users(tenant: pgrx::Uuid, items: Vec<Option<Value>>) -> ScimResult<Vec<ItemResult>> {
    let lim = crate::settings::limits();
    if items.len() > lim.max_bulk_operations {
        return Err(limits::exceeded(
            "scim.max_bulk_operations",
            lim.max_bulk_operations,
            "resources in one import",
            items.len(),
        ));
    }
    // the tenant's registered User extensions validate like in scim_create_user
    let rt = super::extensions::tenant_type(tenant, &USER_TYPE)?;
    let mut results: Vec<ItemResult> = Vec::with_capacity(items.len());
    let mut batch = Batch::default();
    let mut hashes = 0usize;
    for (i, item) in items.into_iter().enumerate() {
        pgrx::check_for_interrupts!();
        let index = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let normalized = item
            .ok_or_else(|| ScimError::invalid_value("a resource is required, not NULL"))
            .and_then(|v| resource::normalize(rt, &v));
        let Normalized {
            resource, password, ..
        } = match normalized {
            Ok(n) => n,
            Err(e) => {
                results.push(failed(index, &e));
                continue;
            }
        };
        if password.is_some() {
            hashes += 1;
            if hashes > lim.max_password_hashes {
                return Err(limits::exceeded(
                    "scim.max_password_hashes",
                    lim.max_password_hashes,
                    "passwords in one import",
                    hashes,
                ));
            }
        }
        let hash = match password.as_deref().map(hash_password).transpose() {
            Ok(h) => h,
            Err(e) => {
                results.push(failed(index, &e));
                continue;
            }
        };
        let p = users::promote(&resource);
        batch.index.push(index);
        batch.user_name.push(p.user_name);
        batch.external_id.push(p.external_id);
        batch.display_name.push(p.display_name);
        batch.active.push(p.active);
        batch.emails.push(JsonB(Value::from(p.email_values)));
        batch.resource.push(JsonB(resource));
        batch.password_hash.push(hash);
        results.push(ItemResult {
            index,
            status: 0, // decided by the insert below
            id: None,
            scim_type: None,
            detail: None,
        });
    }
    reject_taken_unique_values(tenant, rt, &mut batch, &mut results)?;
    // Which item each new row is: its userName (unique per tenant,
    // caselessly) names the first item that carried it.
    let mut by_name: HashMap<String, i32> = HashMap::new();
    for (idx, name) in batch.index.iter().zip(&batch.user_name) {
        by_name.entry(fold_case(name).into_owned()).or_insert(*idx);
    }
    let names = batch.user_name.clone();
    let mut created: HashMap<i32, pgrx::Uuid> = HashMap::new();
    if !batch.index.is_empty() {
        spi::for_each_row(
            IMPORT_SQL,
            &[
                tenant.into(),
                batch.index.into(),
                batch.user_name.into(),
                batch.external_id.into(),
                batch.display_name.into(),
                batch.active.into(),
                batch.emails.into(),
                batch.resource.into(),
                batch.password_hash.into(),
            ],
            |row| {
                pgrx::check_for_interrupts!();
                if let (Some(id), Some(name)) = (row.get::<pgrx::Uuid>(1), row.get::<String>(2)) {
                    if let Some(idx) = by_name.get(fold_case(&name).as_ref()) {
                        created.insert(*idx, id);
                    }
                }
                Ok(())
            },
        )?;
    }
    let name_of: HashMap<i32, &String> = results
        .iter()
        .filter(|r| r.status == 0)
        .map(|r| r.index)
        .zip(&names)
        .collect();
    for r in results.iter_mut().filter(|r| r.status == 0) {
        match created.get(&r.index) {
            Some(id) => {
                r.status = 201;
                r.id = Some(*id);
            }
            None => {
                let name = name_of.get(&r.index).map(|s| s.as_str()).unwrap_or("");
                *r = failed(r.index, &users::taken(name));
            }
        }
    }
    Ok(results)
}
