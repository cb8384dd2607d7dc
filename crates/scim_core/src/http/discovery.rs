//! Discovery documents (RFC 7644 §4): ServiceProviderConfig, ResourceTypes,
//! Schemas. They state exactly what this implementation supports.

use crate::error::{ScimError, ScimResult};
use crate::limits::Limits;
use crate::schema::{resource_type_json, ResourceTypeDef, SchemaDef, RESOURCE_TYPES, SCHEMAS};
use serde_json::{json, Value};

pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// The ServiceProviderConfig, stating the limits in force.
pub fn service_provider_config(limits: &Limits) -> Value {
    let max_results = limits.max_results;
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/scim-pg/scim_pg#readme",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": limits.max_bulk_operations,
                 "maxPayloadSize": limits.max_payload_bytes},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": true},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "pagination": {"cursor": true, "index": true, "defaultPaginationMethod": "index",
                       "defaultPageSize": super::DEFAULT_COUNT.min(max_results), "maxPageSize": max_results},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "Opaque bearer tokens issued by scim.scim_token_issue(), one tenant each",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": "/ServiceProviderConfig"}
    })
}

pub fn list_response(resources: Vec<Value>, total: i64, start_index: i64) -> Value {
    let mut body = list_head(total, start_index, resources.len() as i64);
    body["Resources"] = Value::Array(resources);
    body
}

/// A ListResponse without `Resources` (the caller adds them: the list fast
/// path appends a page SQL already rendered).
pub fn list_head(total: i64, start_index: i64, items_per_page: i64) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": items_per_page,
    })
}

pub fn resource_types(name: Option<&str>) -> ScimResult<Value> {
    resource_types_of(RESOURCE_TYPES, name)
}

/// `/ResourceTypes` for a tenant's resource types (with its registered
/// extensions under `schemaExtensions`).
pub fn resource_types_of(types: &[&ResourceTypeDef], name: Option<&str>) -> ScimResult<Value> {
    match name {
        None => {
            let all: Vec<Value> = types.iter().map(|r| resource_type_json(r)).collect();
            let n = all.len() as i64;
            Ok(list_response(all, n, 1))
        }
        Some(n) => types
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(n))
            .map(|r| resource_type_json(r))
            .ok_or_else(|| ScimError::not_found(format!("no resource type '{n}'"))),
    }
}

pub fn schemas(urn: Option<&str>) -> ScimResult<Value> {
    schemas_of(RESOURCE_TYPES, urn)
}

/// `/Schemas`: the core schemas and every extension of `types`.
pub fn schemas_of(types: &[&ResourceTypeDef], urn: Option<&str>) -> ScimResult<Value> {
    let mut all: Vec<&SchemaDef> = SCHEMAS.to_vec();
    for rt in types {
        for (ext, _) in rt.extensions {
            if !all.iter().any(|s| s.id == ext.id) {
                all.push(ext);
            }
        }
    }
    match urn {
        None => {
            let docs: Vec<Value> = all.iter().map(|s| s.to_json()).collect();
            let n = docs.len() as i64;
            Ok(list_response(docs, n, 1))
        }
        Some(u) => all
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(u))
            .map(|s| s.to_json())
            .ok_or_else(|| ScimError::not_found(format!("no schema '{u}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_documents() {
        let limits = Limits {
            max_bulk_operations: 7,
            max_results: 50,
            max_payload_bytes: 1234,
            ..Limits::default()
        };
        let spc = service_provider_config(&limits);
        assert_eq!(spc["bulk"]["maxOperations"], 7);
        assert_eq!(spc["bulk"]["maxPayloadSize"], 1234);
        assert_eq!(spc["filter"]["maxResults"], 50);
        assert_eq!(spc["pagination"]["defaultPageSize"], 50);
        let rts = resource_types(None).unwrap();
        assert_eq!(rts["totalResults"], 2);
        assert_eq!(
            resource_types(Some("group")).unwrap()["endpoint"],
            "/Groups"
        );
        assert_eq!(resource_types(Some("nope")).unwrap_err().status, 404);
        assert_eq!(schemas(None).unwrap()["totalResults"], 3);
        assert_eq!(
            schemas(Some(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ))
            .unwrap()["name"],
            "EnterpriseUser"
        );
    }
}
