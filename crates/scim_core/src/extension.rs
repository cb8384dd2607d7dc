//! Per-tenant extension schemas (RFC 7643 §3.3, §7).
//!
//! A tenant registers a schema for User or Group in the RFC 7643 §7
//! representation. [`validate_definition`] checks it and returns its
//! canonical form (every characteristic spelled out, names as declared),
//! which is what storage keeps and discovery shows. At request time the
//! stored definitions become ordinary [`SchemaDef`]s and a
//! [`ResourceTypeDef`] with them as extensions ([`tenant_type`]), so
//! validation, filters, PATCH and projection treat registered attributes
//! exactly like the built-in ones.
//!
//! The schema model is `&'static` (the built-in schemas are static data),
//! so a registered definition is built once per backend and distinct
//! definition text, and kept for the backend's lifetime (interned, like a
//! prepared plan). The number of distinct definitions a backend meets is
//! what bounds that memory; each is capped by
//! `scim.max_extension_attributes` and `scim.max_extension_schema_bytes`.
//!
//! Names: attribute names follow `ATTRNAME` (RFC 7643 §2.1: a letter, then
//! letters, digits, `-`, `_`), URNs are `urn:` followed by letters,
//! digits, `.`, `_`, `-` and `:`. Both therefore never need quoting
//! inside a SQL string literal, which is how the filter compiler names
//! them (like the built-in names). [`tenant_type`] builds schemas only
//! from definitions that pass these checks (it parses them again), so no
//! other name can reach SQL text. Nesting is RFC 7643's: a
//! sub-attribute cannot be complex.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::schema::{
    AttrDef, AttrType, Mutability, ResourceTypeDef, Returned, SchemaDef, Uniqueness,
    COMMON_ATTRIBUTES,
};

/// Sizes a registered definition may have (GUCs `scim.max_extension_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionLimits {
    /// Extension schemas per tenant (`scim.max_extension_schemas`).
    pub max_schemas: usize,
    /// Attributes of one schema, sub-attributes included
    /// (`scim.max_extension_attributes`).
    pub max_attributes: usize,
    /// Bytes of one definition as JSON text (`scim.max_extension_schema_bytes`).
    pub max_definition_bytes: usize,
}

impl Default for ExtensionLimits {
    fn default() -> Self {
        ExtensionLimits {
            max_schemas: 20,
            max_attributes: 200,
            max_definition_bytes: 65_536,
        }
    }
}

const MAX_NAME_LEN: usize = 64;
const MAX_URN_LEN: usize = 200;
/// RFC-defined schemas live here; a tenant cannot define one.
const RESERVED_NAMESPACE: &str = "urn:ietf:params:scim:";

fn bad(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_value(detail.into())
}

/// `ATTRNAME = ALPHA *(nameChar)`, nameChar = `-` / `_` / DIGIT / ALPHA.
pub fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && s.len() <= MAX_NAME_LEN
}

/// A URN a tenant may register (see the module docs for the alphabet).
pub fn check_urn(urn: &str) -> ScimResult<()> {
    let body_ok = urn
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'));
    let shape_ok = urn.len() > 4
        && urn[..4].eq_ignore_ascii_case("urn:")
        && urn.len() <= MAX_URN_LEN
        && !urn.ends_with(':')
        && !urn.contains("::")
        && urn[4..].contains(':');
    if !(body_ok && shape_ok) {
        return Err(bad(format!(
            "schema id '{urn}' is not a valid URN: expected urn:<namespace>:<name>, at most {MAX_URN_LEN} characters of letters, digits, '.', '_', '-' and ':'"
        )));
    }
    if urn.len() >= RESERVED_NAMESPACE.len()
        && urn[..RESERVED_NAMESPACE.len()].eq_ignore_ascii_case(RESERVED_NAMESPACE)
    {
        return Err(bad(format!(
            "schema id '{urn}' is in the namespace {RESERVED_NAMESPACE} reserved for RFC-defined schemas"
        )));
    }
    Ok(())
}

/// An attribute definition being validated (owned; see [`leak_attr`]).
#[derive(Clone, Debug)]
struct Attr {
    name: String,
    ty: AttrType,
    multi_valued: bool,
    required: bool,
    case_exact: bool,
    mutability: Mutability,
    returned: Returned,
    uniqueness: Uniqueness,
    canonical_values: Vec<String>,
    reference_types: Vec<String>,
    sub_attributes: Vec<Attr>,
    description: String,
}

fn enum_value<T: Copy>(v: &Value, path: &str, key: &str, all: &[(&str, T)]) -> ScimResult<T> {
    let s = v
        .as_str()
        .ok_or_else(|| bad(format!("'{path}.{key}' must be a string")))?;
    all.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
            bad(format!(
                "'{path}.{key}' is \"{s}\"; expected one of {}",
                names.join(", ")
            ))
        })
}

const TYPES: &[(&str, AttrType)] = &[
    ("string", AttrType::String),
    ("boolean", AttrType::Boolean),
    ("decimal", AttrType::Decimal),
    ("integer", AttrType::Integer),
    ("dateTime", AttrType::DateTime),
    ("binary", AttrType::Binary),
    ("reference", AttrType::Reference),
    ("complex", AttrType::Complex),
];
const MUTABILITY: &[(&str, Mutability)] = &[
    ("readOnly", Mutability::ReadOnly),
    ("readWrite", Mutability::ReadWrite),
    ("immutable", Mutability::Immutable),
    ("writeOnly", Mutability::WriteOnly),
];
const RETURNED: &[(&str, Returned)] = &[
    ("always", Returned::Always),
    ("never", Returned::Never),
    ("default", Returned::Default),
    ("request", Returned::Request),
];
const UNIQUENESS: &[(&str, Uniqueness)] = &[
    ("none", Uniqueness::None),
    ("server", Uniqueness::Server),
    ("global", Uniqueness::Global),
];

fn boolean(v: &Value, path: &str, key: &str) -> ScimResult<bool> {
    v.as_bool()
        .ok_or_else(|| bad(format!("'{path}.{key}' must be true or false")))
}

fn strings(v: &Value, path: &str, key: &str) -> ScimResult<Vec<String>> {
    let items = v
        .as_array()
        .ok_or_else(|| bad(format!("'{path}.{key}' must be an array of strings")))?;
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for i in items {
        crate::interrupt::check();
        let s = i
            .as_str()
            .filter(|s| !s.is_empty() && !s.contains('\0'))
            .ok_or_else(|| bad(format!("'{path}.{key}' must hold non-empty strings")))?;
        if out.iter().any(|o| o == s) {
            return Err(bad(format!("'{path}.{key}' lists \"{s}\" twice")));
        }
        out.push(s.to_string());
    }
    Ok(out)
}

/// Parse and check one attribute definition; `depth` 0 is top level.
fn parse_attr(v: &Value, parent: &str, depth: usize, count: &mut usize) -> ScimResult<Attr> {
    crate::interrupt::check();
    *count += 1;
    let obj = v
        .as_object()
        .ok_or_else(|| bad(format!("'{parent}' must hold attribute definition objects")))?;
    let name = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("name"))
        .and_then(|(_, v)| v.as_str())
        .ok_or_else(|| bad(format!("an attribute of '{parent}' has no 'name' string")))?;
    if !is_attr_name(name) {
        return Err(bad(format!(
            "attribute name '{name}' in '{parent}' is not valid: a letter, then letters, digits, '-' or '_', at most {MAX_NAME_LEN} characters"
        )));
    }
    let path = format!("{parent}.{name}");
    let mut a = Attr {
        name: name.to_string(),
        ty: AttrType::String,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: vec![],
        reference_types: vec![],
        sub_attributes: vec![],
        description: String::new(),
    };
    let mut returned_given = false;
    let mut subs = None;
    for (k, v) in obj {
        match k.to_ascii_lowercase().as_str() {
            "name" => {}
            "type" => a.ty = enum_value(v, &path, "type", TYPES)?,
            "multivalued" => a.multi_valued = boolean(v, &path, "multiValued")?,
            "required" => a.required = boolean(v, &path, "required")?,
            "caseexact" => a.case_exact = boolean(v, &path, "caseExact")?,
            "mutability" => a.mutability = enum_value(v, &path, "mutability", MUTABILITY)?,
            "returned" => {
                a.returned = enum_value(v, &path, "returned", RETURNED)?;
                returned_given = true;
            }
            "uniqueness" => a.uniqueness = enum_value(v, &path, "uniqueness", UNIQUENESS)?,
            "canonicalvalues" => a.canonical_values = strings(v, &path, "canonicalValues")?,
            "referencetypes" => a.reference_types = strings(v, &path, "referenceTypes")?,
            "description" => {
                a.description = v
                    .as_str()
                    .ok_or_else(|| bad(format!("'{path}.description' must be a string")))?
                    .to_string()
            }
            "subattributes" => subs = Some(v),
            _ => {
                return Err(bad(format!(
                    "'{path}': unknown characteristic '{k}' (RFC 7643 §7)"
                )))
            }
        }
    }
    if a.mutability == Mutability::WriteOnly {
        if returned_given && a.returned != Returned::Never {
            return Err(bad(format!(
                "'{path}' is writeOnly and must have returned \"never\""
            )));
        }
        a.returned = Returned::Never;
    }
    if a.required && a.mutability == Mutability::ReadOnly {
        return Err(bad(format!(
            "'{path}' is required and readOnly: no client could ever set it"
        )));
    }
    if !a.canonical_values.is_empty() && a.ty != AttrType::String {
        return Err(bad(format!(
            "'{path}': canonicalValues are only supported for string attributes"
        )));
    }
    if !a.reference_types.is_empty() && a.ty != AttrType::Reference {
        return Err(bad(format!(
            "'{path}': referenceTypes are only allowed on reference attributes"
        )));
    }
    if a.uniqueness != Uniqueness::None
        && (a.multi_valued
            || depth > 0
            || !matches!(
                a.ty,
                AttrType::String | AttrType::Integer | AttrType::Reference
            ))
    {
        return Err(bad(format!(
            "'{path}': uniqueness is supported on single-valued top-level string, integer and reference attributes only"
        )));
    }
    match (a.ty, subs) {
        (AttrType::Complex, _) if depth > 0 => {
            return Err(bad(format!(
                "'{path}': a sub-attribute cannot be complex (RFC 7643 §2.3.8 allows one level of nesting)"
            )))
        }
        (AttrType::Complex, Some(v)) => {
            let items = v
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| bad(format!("'{path}.subAttributes' must be a non-empty array")))?;
            for item in items {
                let sub = parse_attr(item, &path, depth + 1, count)?;
                if a
                    .sub_attributes
                    .iter()
                    .any(|s| s.name.eq_ignore_ascii_case(&sub.name))
                {
                    return Err(bad(format!(
                        "'{path}' declares sub-attribute '{}' twice (names are case-insensitive)",
                        sub.name
                    )));
                }
                a.sub_attributes.push(sub);
            }
        }
        (AttrType::Complex, None) => {
            return Err(bad(format!(
                "'{path}' is complex and needs subAttributes"
            )))
        }
        (_, Some(_)) => {
            return Err(bad(format!(
                "'{path}': only complex attributes have subAttributes"
            )))
        }
        (_, None) => {}
    }
    Ok(a)
}

fn attr_json(a: &Attr) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(a.name));
    m.insert("type".into(), json!(a.ty.as_str()));
    m.insert("multiValued".into(), json!(a.multi_valued));
    m.insert("description".into(), json!(a.description));
    m.insert("required".into(), json!(a.required));
    m.insert("caseExact".into(), json!(a.case_exact));
    if !a.canonical_values.is_empty() {
        m.insert("canonicalValues".into(), json!(a.canonical_values));
    }
    if !a.reference_types.is_empty() {
        m.insert("referenceTypes".into(), json!(a.reference_types));
    }
    m.insert("mutability".into(), json!(a.mutability.as_str()));
    m.insert("returned".into(), json!(a.returned.as_str()));
    m.insert("uniqueness".into(), json!(a.uniqueness.as_str()));
    if !a.sub_attributes.is_empty() {
        m.insert(
            "subAttributes".into(),
            Value::Array(a.sub_attributes.iter().map(attr_json).collect()),
        );
    }
    Value::Object(m)
}

/// The parts of a definition: id, name, description, attributes.
struct Parsed {
    id: String,
    name: String,
    description: String,
    attributes: Vec<Attr>,
}

fn parse_definition(
    base: &ResourceTypeDef,
    def: &Value,
    max_attributes: usize,
) -> ScimResult<Parsed> {
    let obj = def
        .as_object()
        .ok_or_else(|| bad("a schema definition must be a JSON object"))?;
    let mut id = None;
    let mut name = None;
    let mut description = String::new();
    let mut attrs = None;
    for (k, v) in obj {
        match k.to_ascii_lowercase().as_str() {
            "id" => id = Some(v.as_str().ok_or_else(|| bad("'id' must be a string"))?),
            "name" => name = Some(v.as_str().ok_or_else(|| bad("'name' must be a string"))?),
            "description" => {
                description = v
                    .as_str()
                    .ok_or_else(|| bad("'description' must be a string"))?
                    .to_string()
            }
            "attributes" => attrs = Some(v),
            // the Schema resource's own envelope
            "schemas" | "meta" => {}
            _ => {
                return Err(bad(format!(
                    "unknown member '{k}' in a schema definition (RFC 7643 §7: id, name, description, attributes)"
                )))
            }
        }
    }
    let id = id.ok_or_else(|| bad("a schema definition needs an 'id' (its URN)"))?;
    check_urn(id)?;
    let items = attrs
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            bad(format!(
                "schema '{id}' needs a non-empty 'attributes' array"
            ))
        })?;
    let mut count = 0usize;
    let mut attributes: Vec<Attr> = Vec::with_capacity(items.len());
    for item in items {
        let a = parse_attr(item, id, 0, &mut count)?;
        if count > max_attributes {
            return Err(crate::limits::exceeded(
                "scim.max_extension_attributes",
                max_attributes,
                &format!("attributes in schema '{id}' (sub-attributes included)"),
                count,
            ));
        }
        let core = COMMON_ATTRIBUTES
            .iter()
            .chain(base.schema.attributes.iter())
            .any(|c| c.name.eq_ignore_ascii_case(&a.name))
            || a.name.eq_ignore_ascii_case("schemas");
        if core {
            return Err(bad(format!(
                "attribute '{}' of schema '{id}' collides with the core {} attribute of that name",
                a.name, base.name
            )));
        }
        if attributes
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&a.name))
        {
            return Err(bad(format!(
                "schema '{id}' declares attribute '{}' twice (names are case-insensitive)",
                a.name
            )));
        }
        attributes.push(a);
    }
    Ok(Parsed {
        id: id.to_string(),
        name: name.unwrap_or(id).to_string(),
        description,
        attributes,
    })
}

fn canonical_json(p: &Parsed) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "attributes": p.attributes.iter().map(attr_json).collect::<Vec<_>>(),
    })
}

/// Check a definition for resource type `base` and return its canonical
/// form. Bad definitions are 400 `invalidValue` naming the problem; over a
/// size limit 413.
pub fn validate_definition(
    base: &ResourceTypeDef,
    def: &Value,
    limits: &ExtensionLimits,
) -> ScimResult<Value> {
    let bytes = def.to_string().len();
    if bytes > limits.max_definition_bytes {
        return Err(crate::limits::exceeded(
            "scim.max_extension_schema_bytes",
            limits.max_definition_bytes,
            "bytes in one schema definition",
            bytes,
        ));
    }
    let parsed = parse_definition(base, def, limits.max_attributes)?;
    Ok(canonical_json(&parsed))
}

/// How an existing attribute may change when a schema is updated: its
/// type, multiValued and sub-attribute types stay (stored values keep
/// their schema types, which filters and indexes rely on). Returns the
/// first incompatible change, naming it.
pub fn incompatible_change(old: &Value, new: &Value) -> Option<String> {
    let attrs = |v: &Value| -> Vec<Value> {
        v.get("attributes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    fn shape(a: &Value) -> (String, bool) {
        (
            a.get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            a.get("multiValued")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        )
    }
    fn find<'a>(list: &'a [Value], name: &str) -> Option<&'a Value> {
        list.iter().find(|a| {
            a.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }
    for o in attrs(old) {
        let name = o.get("name").and_then(Value::as_str).unwrap_or("");
        let newer = attrs(new);
        let Some(n) = find(&newer, name) else {
            continue;
        };
        if shape(&o) != shape(n) {
            return Some(format!(
                "attribute '{name}' cannot change its type or multiValued (remove the schema, or the attribute, first)"
            ));
        }
        let subs = |v: &Value| -> Vec<Value> {
            v.get("subAttributes")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let (os, ns) = (subs(&o), subs(n));
        for s in &os {
            let sn = s.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some(t) = find(&ns, sn) {
                if shape(s) != shape(t) {
                    return Some(format!(
                        "sub-attribute '{name}.{sn}' cannot change its type or multiValued"
                    ));
                }
            }
        }
    }
    None
}

/// Names of the attributes of `old` that `new` no longer has.
pub fn removed_attributes(old: &Value, new: &Value) -> Vec<String> {
    let names = |v: &Value| -> Vec<String> {
        v.get("attributes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.get("name").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let newer = names(new);
    names(old)
        .into_iter()
        .filter(|o| !newer.iter().any(|n| n.eq_ignore_ascii_case(o)))
        .collect()
}

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn leak_attr(a: &Attr) -> AttrDef {
    let subs: Vec<AttrDef> = a.sub_attributes.iter().map(leak_attr).collect();
    let canon: Vec<&'static str> = a.canonical_values.iter().map(|s| leak_str(s)).collect();
    let refs: Vec<&'static str> = a.reference_types.iter().map(|s| leak_str(s)).collect();
    AttrDef {
        name: leak_str(&a.name),
        ty: a.ty,
        multi_valued: a.multi_valued,
        required: a.required,
        case_exact: a.case_exact,
        mutability: a.mutability,
        returned: a.returned,
        uniqueness: a.uniqueness,
        canonical_values: Box::leak(canon.into_boxed_slice()),
        reference_types: Box::leak(refs.into_boxed_slice()),
        sub_attributes: Box::leak(subs.into_boxed_slice()),
        description: leak_str(&a.description),
        registered: true,
    }
}

/// Interned tenant resource types, by their definition text.
fn interned() -> &'static Mutex<HashMap<String, &'static ResourceTypeDef>> {
    static MAP: OnceLock<Mutex<HashMap<String, &'static ResourceTypeDef>>> = OnceLock::new();
    MAP.get_or_init(|| Mutex::new(HashMap::new()))
}

/// One registered extension of a resource type, as storage holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Registered {
    /// The canonical definition ([`validate_definition`]'s output).
    pub definition: Value,
    /// `schemaExtensions[].required`: every resource must carry it.
    pub required: bool,
}

/// `base` with the tenant's registered extensions appended (after the
/// built-in ones). No extensions: `base` itself.
pub fn tenant_type(
    base: &'static ResourceTypeDef,
    registered: &[Registered],
) -> ScimResult<&'static ResourceTypeDef> {
    if registered.is_empty() {
        return Ok(base);
    }
    let mut key = String::new();
    for r in registered {
        key.push('\n');
        key.push_str(if r.required { "1" } else { "0" });
        key.push_str(&r.definition.to_string());
    }
    tenant_type_keyed(base, &key, &mut || Ok(registered.to_vec()))
}

/// [`tenant_type`] by a key that changes whenever the definitions do
/// (storage uses the rows' versions), so a backend that has built the
/// type before needs neither the definitions nor their text: `load` runs
/// only the first time a key is seen. An empty key means no extensions.
pub fn tenant_type_keyed(
    base: &'static ResourceTypeDef,
    key: &str,
    load: &mut dyn FnMut() -> ScimResult<Vec<Registered>>,
) -> ScimResult<&'static ResourceTypeDef> {
    if key.is_empty() {
        return Ok(base);
    }
    let key = format!("{}{key}", base.name);
    if let Some(rt) = interned()
        .lock()
        .map_err(|_| ScimError::new(500, None, "extension schema cache poisoned"))?
        .get(&key)
    {
        return Ok(rt);
    }
    let registered = load()?;
    let mut map = interned()
        .lock()
        .map_err(|_| ScimError::new(500, None, "extension schema cache poisoned"))?;
    let mut exts: Vec<(&'static SchemaDef, bool)> = base.extensions.to_vec();
    for r in registered {
        // Stored definitions were validated; parse again without limits.
        let p = parse_definition(base, &r.definition, usize::MAX)?;
        let attrs: Vec<AttrDef> = p.attributes.iter().map(leak_attr).collect();
        let schema: &'static SchemaDef = Box::leak(Box::new(SchemaDef {
            id: leak_str(&p.id),
            name: leak_str(&p.name),
            description: leak_str(&p.description),
            attributes: Box::leak(attrs.into_boxed_slice()),
        }));
        exts.push((schema, r.required));
    }
    let rt: &'static ResourceTypeDef = Box::leak(Box::new(ResourceTypeDef {
        kind: base.kind,
        name: base.name,
        endpoint: base.endpoint,
        description: base.description,
        schema: base.schema,
        extensions: Box::leak(exts.into_boxed_slice()),
    }));
    map.insert(key, rt);
    Ok(rt)
}

/// `mutability: immutable` of registered attributes on PUT and PATCH: a
/// value, once set, cannot change or go (400 `mutability`).
pub fn check_immutable(rt: &ResourceTypeDef, old: &Value, new: &Value) -> ScimResult<()> {
    for (ext, _) in rt.extensions {
        let immutable = ext
            .attributes
            .iter()
            .filter(|a| a.registered && a.mutability == Mutability::Immutable);
        for a in immutable {
            let before = old.get(ext.id).and_then(|e| e.get(a.name));
            let after = new.get(ext.id).and_then(|e| e.get(a.name));
            if before.is_some() && before != after {
                return Err(ScimError::mutability(format!(
                    "'{}:{}' is immutable and cannot be modified",
                    ext.id, a.name
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
