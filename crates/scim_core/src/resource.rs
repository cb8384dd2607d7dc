//! Resource validation, canonicalisation and projection.
//!
//! `normalize` turns a client's JSON (any attribute-name casing, Entra's
//! string booleans, readOnly noise such as `id`/`meta`/`groups`) into the
//! canonical form we store; `project` applies `attributes` /
//! `excludedAttributes` (RFC 7644 §3.4.2.5) to a stored representation.

use crate::error::{ScimError, ScimResult};
use crate::schema::{
    AttrDef, AttrScope, AttrType, Mutability, ResolvedAttr, ResourceKind, ResourceTypeDef,
    Returned, SchemaDef,
};
use serde_json::{Map, Value};

/// A group member reference as given by a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRef {
    pub value: String,
    /// `User` or `Group` when the client said so.
    pub kind: Option<String>,
}

/// What a create/replace body normalises to.
#[derive(Debug, PartialEq)]
pub struct Normalized {
    /// Canonical resource without `id`, `meta`, `password` and group `members`.
    pub resource: Value,
    /// The writeOnly password, if sent (the store keeps only a salted hash).
    pub password: Option<String>,
    /// Group members; `None` when the body did not mention `members`.
    pub members: Option<Vec<MemberRef>>,
}

/// Validate and canonicalise a full resource body (POST / PUT).
pub fn normalize(rt: &ResourceTypeDef, input: &Value) -> ScimResult<Normalized> {
    let obj = input
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    let mut out = Map::new();
    let mut password = None;
    let mut members = None;

    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            check_schemas(rt, value)?;
            continue;
        }
        if let Some(ext) = rt.extension(key) {
            if value.is_null() {
                continue;
            }
            let inner = value.as_object().ok_or_else(|| {
                ScimError::invalid_value(format!("'{}' must be an object", ext.id))
            })?;
            for (k, v) in inner {
                if k.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let attr = ext.attr(k).ok_or_else(|| {
                    ScimError::invalid_value(format!("unknown attribute '{}:{}'", ext.id, k))
                })?;
                let resolved = ResolvedAttr {
                    scope: AttrScope::Extension(ext.id),
                    attr,
                    sub: None,
                };
                put_attr(&mut out, &resolved, v)?;
            }
            continue;
        }
        let resolved = rt.resolve(key).ok_or_else(|| unknown_key(rt, key))?;
        if resolved.sub.is_some() {
            // A dotted key such as "name.givenName" is only meaningful in PATCH.
            return Err(ScimError::invalid_value(format!(
                "unknown attribute '{}'",
                key
            )));
        }
        match (rt.kind, resolved.attr.name) {
            (_, "id") | (_, "meta") => continue, // readOnly, server-assigned
            (ResourceKind::User, "password") => {
                password = match value {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    _ => return Err(ScimError::invalid_value("'password' must be a string")),
                };
            }
            (ResourceKind::Group, "members") => members = Some(parse_members(value)?),
            _ => put_attr(&mut out, &resolved, value)?,
        }
    }

    check_required(rt, &out)?;
    check_extensions_required(rt, &out)?;
    check_indexed_lengths(&out)?;
    let schemas = present_schemas(rt, &out);
    let mut resource = Map::new();
    resource.insert("schemas".into(), schemas);
    resource.extend(out);
    Ok(Normalized {
        resource: Value::Object(resource),
        password,
        members,
    })
}

/// Normalise `value` for `resolved` and store it at its canonical place in
/// `out` (top level or under the extension URN). Null/empty clears nothing:
/// it simply isn't stored (RFC 7643 §2.5: unassigned).
pub fn put_attr(
    out: &mut Map<String, Value>,
    resolved: &ResolvedAttr,
    value: &Value,
) -> ScimResult<()> {
    let path = resolved.canonical_path();
    if resolved.attr.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    let Some(v) = normalize_attr(resolved.attr, value, &path)? else {
        return Ok(());
    };
    match resolved.container_key() {
        None => {
            out.insert(resolved.attr.name.to_string(), v);
        }
        Some(urn) => {
            let ext = out
                .entry(urn.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = ext {
                m.insert(resolved.attr.name.to_string(), v);
            }
        }
    }
    Ok(())
}

/// Normalise one attribute value (whole attribute, possibly multi-valued).
/// `Ok(None)` means unassigned (null, empty array, empty object).
pub fn normalize_attr(attr: &AttrDef, value: &Value, path: &str) -> ScimResult<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    if attr.multi_valued {
        let items = value.as_array().ok_or_else(|| {
            ScimError::invalid_value(format!("'{}' is multi-valued and must be an array", path))
        })?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(v) = normalize_single(attr, item, &format!("{}[{}]", path, i))? {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        check_single_primary(&out, path)?;
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    normalize_single(attr, value, path)
}

/// Normalise a single (non-array) value of `attr`.
pub fn normalize_single(attr: &AttrDef, value: &Value, path: &str) -> ScimResult<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    if attr.ty == AttrType::Complex {
        // Entra sends the enterprise `manager` as a bare id string.
        if let (Value::String(s), false, Some(_)) = (value, attr.multi_valued, attr.sub("value")) {
            let mut m = Map::new();
            m.insert("value".into(), Value::String(s.clone()));
            return Ok(Some(Value::Object(m)));
        }
        let obj = value
            .as_object()
            .ok_or_else(|| ScimError::invalid_value(format!("'{}' must be an object", path)))?;
        let mut out = Map::new();
        for (k, v) in obj {
            let sub = attr.sub(k).ok_or_else(|| {
                ScimError::invalid_value(format!("unknown attribute '{}.{}'", path, k))
            })?;
            if sub.mutability == Mutability::ReadOnly {
                continue;
            }
            if let Some(v) = normalize_scalar(sub, v, &format!("{}.{}", path, sub.name))? {
                out.insert(sub.name.to_string(), v);
            }
        }
        return Ok((!out.is_empty()).then_some(Value::Object(out)));
    }
    normalize_scalar(attr, value, path)
}

/// Type-check and coerce a scalar. Entra sends booleans as "True"/"False".
pub fn normalize_scalar(attr: &AttrDef, value: &Value, path: &str) -> ScimResult<Option<Value>> {
    let wrong = |what: &str| ScimError::invalid_value(format!("'{}' must be {}", path, what));
    Ok(Some(match (attr.ty, value) {
        (_, Value::Null) => return Ok(None),
        (AttrType::Boolean, Value::Bool(b)) => Value::Bool(*b),
        (AttrType::Boolean, Value::String(s)) => match parse_bool(s) {
            Some(b) => Value::Bool(b),
            None => return Err(wrong("a boolean")),
        },
        (AttrType::Boolean, _) => return Err(wrong("a boolean")),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => value.clone(),
        (AttrType::Integer, _) => return Err(wrong("an integer")),
        (AttrType::Decimal, Value::Number(_)) => value.clone(),
        (AttrType::Decimal, _) => return Err(wrong("a number")),
        (AttrType::DateTime, Value::String(s)) => {
            let t = parse_datetime(s).ok_or_else(|| wrong("an RFC 3339 dateTime"))?;
            Value::String(t)
        }
        (AttrType::DateTime, _) => return Err(wrong("an RFC 3339 dateTime")),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(s)) => {
            if s.chars().any(|c| c == '\0') {
                return Err(wrong("a string without NUL characters"));
            }
            if attr.registered && !attr.canonical_values.is_empty() {
                return canonical_value(attr, s, path).map(Some);
            }
            Value::String(s.clone())
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, _) => {
            return Err(wrong("a string"))
        }
        (AttrType::Complex, _) => return normalize_single(attr, value, path),
    }))
}

/// "true"/"false" in any case (Entra ID sends "False").
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Parse an RFC 3339 dateTime and return it in canonical UTC form.
pub fn parse_datetime(s: &str) -> Option<String> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| {
        t.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    })
}

fn check_single_primary(items: &[Value], path: &str) -> ScimResult<()> {
    let primaries = items
        .iter()
        .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "at most one '{}' value may have primary=true",
            path
        )));
    }
    Ok(())
}

/// Longest value accepted for attributes that live in b-tree / GIN index
/// entries (a Postgres index row holds at most ~2.7 kB): a clear 400
/// instead of an "index row size exceeds" error.
pub const MAX_INDEXED_BYTES: usize = 2048;

fn check_indexed_lengths(out: &Map<String, Value>) -> ScimResult<()> {
    let too_long = |name: &str, v: &str| {
        (v.len() > MAX_INDEXED_BYTES).then(|| {
            ScimError::invalid_value(format!(
                "'{name}' is {} bytes long; at most {MAX_INDEXED_BYTES} are allowed",
                v.len()
            ))
        })
    };
    for name in ["userName", "displayName", "externalId"] {
        if let Some(e) = out
            .get(name)
            .and_then(Value::as_str)
            .and_then(|v| too_long(name, v))
        {
            return Err(e);
        }
    }
    let emails = out.get("emails").and_then(Value::as_array);
    for e in emails.into_iter().flatten() {
        if let Some(err) = e
            .get("value")
            .and_then(Value::as_str)
            .and_then(|v| too_long("emails.value", v))
        {
            return Err(err);
        }
    }
    Ok(())
}

/// `schemas` must be an array of strings. A URN this resource type does
/// not know is ignored (IdPs list schemas they carry no data for); one
/// that comes with attributes fails in [`unknown_key`].
fn check_schemas(_rt: &ResourceTypeDef, value: &Value) -> ScimResult<()> {
    let list = value
        .as_array()
        .ok_or_else(|| ScimError::invalid_value("'schemas' must be an array of schema URNs"))?;
    if list.iter().any(|s| !s.is_string()) {
        return Err(ScimError::invalid_value(
            "'schemas' must be an array of schema URNs",
        ));
    }
    Ok(())
}

/// The error for a body member that names no attribute: an unknown
/// `urn:` key is an extension this tenant has not registered.
fn unknown_key(rt: &ResourceTypeDef, key: &str) -> ScimError {
    if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        return ScimError::invalid_value(format!(
            "schema '{key}' is not a registered extension of {} resources, so its attributes cannot be stored",
            rt.name
        ));
    }
    ScimError::invalid_value(format!("unknown attribute '{key}'"))
}

/// A registered attribute with canonicalValues takes only those (compared
/// case-insensitively unless caseExact) and is stored in their spelling.
fn canonical_value(attr: &AttrDef, s: &str, path: &str) -> ScimResult<Value> {
    let found = attr.canonical_values.iter().find(|c| {
        if attr.case_exact {
            **c == s
        } else {
            crate::casefold::fold_case(c) == crate::casefold::fold_case(s)
        }
    });
    match found {
        Some(c) => Ok(Value::String((*c).to_string())),
        None => Err(ScimError::invalid_value(format!(
            "'{path}' is \"{s}\"; expected one of {}",
            attr.canonical_values.join(", ")
        ))),
    }
}

/// Extensions: a required one (`schemaExtensions[].required`) must be
/// present, and a present one must have its required attributes.
pub fn check_extensions_required(rt: &ResourceTypeDef, out: &Map<String, Value>) -> ScimResult<()> {
    for (ext, required) in rt.extensions {
        let data = out.get(ext.id).and_then(Value::as_object);
        let Some(data) = data else {
            if *required {
                return Err(ScimError::invalid_value(format!(
                    "{} resources must carry the extension '{}'",
                    rt.name, ext.id
                )));
            }
            continue;
        };
        for attr in ext.attributes.iter().filter(|a| a.required) {
            if !data.get(attr.name).is_some_and(crate::filter::is_present) {
                return Err(ScimError::invalid_value(format!(
                    "attribute '{}:{}' is required",
                    ext.id, attr.name
                )));
            }
        }
    }
    Ok(())
}

fn check_required(rt: &ResourceTypeDef, out: &Map<String, Value>) -> ScimResult<()> {
    for attr in rt.schema.attributes.iter().filter(|a| a.required) {
        let present = match out.get(attr.name) {
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(_) => true,
            None => false,
        };
        if !present {
            return Err(ScimError::invalid_value(format!(
                "attribute '{}' is required",
                attr.name
            )));
        }
    }
    Ok(())
}

/// `schemas` lists the core schema plus every extension with data.
pub fn present_schemas(rt: &ResourceTypeDef, out: &Map<String, Value>) -> Value {
    let mut v = vec![Value::String(rt.schema.id.into())];
    for (ext, _) in rt.extensions {
        if out.contains_key(ext.id) {
            v.push(Value::String(ext.id.into()));
        }
    }
    Value::Array(v)
}

/// Parse a `members` value: an array of `{"value": id, "type"?: …}`;
/// `$ref` and `display` are accepted and ignored (we derive them).
pub fn parse_members(value: &Value) -> ScimResult<Vec<MemberRef>> {
    let items = match value {
        Value::Null => return Ok(vec![]),
        Value::Array(a) => a,
        _ => return Err(ScimError::invalid_value("'members' must be an array")),
    };
    let mut out: Vec<MemberRef> = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let m = parse_member(item, &format!("members[{}]", i))?;
        if seen.insert(m.value.clone()) {
            out.push(m);
        }
    }
    Ok(out)
}

/// One member object (also used by PATCH).
pub fn parse_member(item: &Value, path: &str) -> ScimResult<MemberRef> {
    let obj = item
        .as_object()
        .ok_or_else(|| ScimError::invalid_value(format!("'{}' must be an object", path)))?;
    let mut value = None;
    let mut kind = None;
    for (k, v) in obj {
        if k.eq_ignore_ascii_case("value") {
            value = Some(
                v.as_str()
                    .ok_or_else(|| {
                        ScimError::invalid_value(format!("'{}.value' must be a string", path))
                    })?
                    .to_string(),
            );
        } else if k.eq_ignore_ascii_case("type") {
            kind = match v {
                Value::Null => None,
                Value::String(s) if s.eq_ignore_ascii_case("user") => Some("User".to_string()),
                Value::String(s) if s.eq_ignore_ascii_case("group") => Some("Group".to_string()),
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "'{}.type' must be \"User\" or \"Group\"",
                        path
                    )))
                }
            };
        } else if !(k.eq_ignore_ascii_case("$ref") || k.eq_ignore_ascii_case("display")) {
            return Err(ScimError::invalid_value(format!(
                "unknown attribute '{}.{}'",
                path, k
            )));
        }
    }
    let value = value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ScimError::invalid_value(format!("'{}.value' is required", path)))?;
    Ok(MemberRef { value, kind })
}

/// An `attributes`/`excludedAttributes` list resolved against a resource type.
#[derive(Debug)]
enum Selector {
    Attr(ResolvedAttr),
    /// A whole extension: `urn:…:enterprise:2.0:User`.
    Extension(&'static str),
}

fn parse_selectors(rt: &ResourceTypeDef, list: &str, param: &str) -> ScimResult<Vec<Selector>> {
    let mut out = vec![];
    for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some(ext) = rt.extension(raw) {
            out.push(Selector::Extension(ext.id));
        } else if raw.eq_ignore_ascii_case("schemas") {
            continue;
        } else {
            let r = rt.resolve(raw).ok_or_else(|| {
                ScimError::invalid_value(format!("{}: unknown attribute '{}'", param, raw))
            })?;
            out.push(Selector::Attr(r));
        }
    }
    Ok(out)
}

/// Apply `attributes` / `excludedAttributes` to a full resource
/// representation. `id` and `schemas` are always returned; returned=never
/// attributes never are.
pub fn project(
    rt: &ResourceTypeDef,
    resource: &Value,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> ScimResult<Value> {
    let Some(obj) = resource.as_object() else {
        return Ok(resource.clone());
    };
    let include = match attributes.filter(|s| !s.trim().is_empty()) {
        Some(list) => Some(parse_selectors(rt, list, "attributes")?),
        None => None,
    };
    let exclude = match excluded.filter(|s| !s.trim().is_empty()) {
        Some(list) => parse_selectors(rt, list, "excludedAttributes")?,
        None => vec![],
    };

    let mut out = Map::new();
    for (k, v) in obj {
        if k == "schemas" || k == "id" {
            out.insert(k.clone(), v.clone());
            continue;
        }
        let kept = match &include {
            None => Some(without_request_only(rt, k, v)),
            Some(sel) => select(rt, k, v, sel),
        };
        let kept = kept.and_then(|v| drop_excluded(rt, k, v, &exclude));
        let kept = match rt.extension(k) {
            Some(ext) => extension_returned(ext, v, kept, include.as_deref()),
            None => kept,
        };
        if let Some(v) = kept {
            out.insert(k.clone(), v);
        }
    }
    Ok(Value::Object(out))
}

/// `returned` of an extension's attributes (RFC 7643 §7): `never` ones
/// are never shown, `request` ones only when `attributes` names them,
/// `always` ones whatever the projection. `stored` is the extension's
/// whole value, `kept` what the projection left of it.
fn extension_returned(
    ext: &SchemaDef,
    stored: &Value,
    kept: Option<Value>,
    include: Option<&[Selector]>,
) -> Option<Value> {
    let named = |name: &str| {
        include.is_some_and(|sel| {
            sel.iter().any(|s| match s {
                Selector::Attr(r) => r.container_key() == Some(ext.id) && r.attr.name == name,
                Selector::Extension(_) => false,
            })
        })
    };
    let mut m = match kept {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for a in ext.attributes {
        let hide = match a.returned {
            Returned::Never => true,
            Returned::Request => !named(a.name),
            _ => false,
        };
        if hide {
            m.remove(a.name);
            continue;
        }
        if a.returned == Returned::Always && !m.contains_key(a.name) {
            if let Some(v) = stored.get(a.name) {
                m.insert(a.name.to_string(), v.clone());
            }
        }
        if let Some(v) = m.get_mut(a.name) {
            for sub in a
                .sub_attributes
                .iter()
                .filter(|s| s.returned == Returned::Never)
            {
                remove_sub(v, sub.name);
            }
        }
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// Drop sub-attributes whose `returned` is "request" (RFC 7643 §7: only
/// returned when named in `attributes`), e.g. a group member's `display`.
fn without_request_only(rt: &ResourceTypeDef, key: &str, v: &Value) -> Value {
    let Some((_, attr)) = rt.top_level(key) else {
        return v.clone();
    };
    let hidden: Vec<&str> = attr
        .sub_attributes
        .iter()
        .filter(|s| s.returned == Returned::Request)
        .map(|s| s.name)
        .collect();
    let mut v = v.clone();
    for name in hidden {
        remove_sub(&mut v, name);
    }
    v
}

/// The part of top-level member `key` (value `v`) selected by `sel`.
fn select(rt: &ResourceTypeDef, key: &str, v: &Value, sel: &[Selector]) -> Option<Value> {
    let ext = rt.extension(key).map(|s| s.id);
    let mut whole = false;
    let mut parts: Vec<&ResolvedAttr> = vec![];
    for s in sel {
        match s {
            Selector::Extension(urn) if Some(*urn) == ext => whole = true,
            Selector::Attr(r) => {
                let same_place = match (r.container_key(), ext) {
                    (Some(u), Some(e)) => u == e,
                    (None, None) => r.attr.name == key,
                    _ => false,
                };
                if same_place {
                    if r.sub.is_none() && ext.is_none() {
                        whole = true;
                    } else {
                        parts.push(r);
                    }
                }
            }
            _ => {}
        }
    }
    if whole {
        return Some(v.clone());
    }
    if parts.is_empty() {
        return None;
    }
    match ext {
        // Inside an extension: keep the selected attributes (and sub-attributes).
        Some(_) => {
            let inner = v.as_object()?;
            let mut m = Map::new();
            for r in &parts {
                if let Some(val) = inner.get(r.attr.name) {
                    let picked = match r.sub {
                        None => Some(val.clone()),
                        Some(sub) => pick_sub(val, sub.name),
                    };
                    if let Some(p) = picked {
                        merge_into(&mut m, r.attr.name, p);
                    }
                }
            }
            (!m.is_empty()).then_some(Value::Object(m))
        }
        // A core complex attribute with selected sub-attributes.
        None => {
            let mut acc: Option<Value> = None;
            for r in &parts {
                if let Some(p) = pick_sub(v, r.sub?.name) {
                    acc = Some(match acc {
                        None => p,
                        Some(prev) => merge_values(prev, p),
                    });
                }
            }
            acc
        }
    }
}

/// Keep only `sub` of a complex value (element-wise for arrays).
fn pick_sub(v: &Value, sub: &str) -> Option<Value> {
    match v {
        Value::Array(items) => {
            let picked: Vec<Value> = items.iter().filter_map(|i| pick_sub(i, sub)).collect();
            (!picked.is_empty()).then_some(Value::Array(picked))
        }
        Value::Object(m) => m.get(sub).map(|x| {
            let mut o = Map::new();
            o.insert(sub.to_string(), x.clone());
            Value::Object(o)
        }),
        _ => None,
    }
}

fn merge_into(m: &mut Map<String, Value>, key: &str, v: Value) {
    let merged = match m.remove(key) {
        Some(prev) => merge_values(prev, v),
        None => v,
    };
    m.insert(key.to_string(), merged);
}

/// Merge two projections of the same value (objects key-wise, arrays element-wise).
fn merge_values(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut x), Value::Object(y)) => {
            for (k, v) in y {
                merge_into(&mut x, &k, v);
            }
            Value::Object(x)
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => Value::Array(
            x.into_iter()
                .zip(y)
                .map(|(p, q)| merge_values(p, q))
                .collect(),
        ),
        (_, b) => b,
    }
}

fn drop_excluded(rt: &ResourceTypeDef, key: &str, v: Value, exclude: &[Selector]) -> Option<Value> {
    let ext = rt.extension(key).map(|s| s.id);
    let mut v = v;
    for s in exclude {
        match s {
            Selector::Extension(urn) if Some(*urn) == ext => return None,
            Selector::Attr(r) => {
                if r.leaf().returned == Returned::Always {
                    continue;
                }
                match (r.container_key(), ext) {
                    (None, None) if r.attr.name == key => match r.sub {
                        None => return None,
                        Some(sub) => remove_sub(&mut v, sub.name),
                    },
                    (Some(u), Some(e)) if u == e => {
                        if let Value::Object(m) = &mut v {
                            match r.sub {
                                None => {
                                    m.remove(r.attr.name);
                                }
                                Some(sub) => {
                                    if let Some(inner) = m.get_mut(r.attr.name) {
                                        remove_sub(inner, sub.name);
                                    }
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Some(v)
}

fn remove_sub(v: &mut Value, sub: &str) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| remove_sub(i, sub)),
        Value::Object(m) => {
            m.remove(sub);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScimType;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_TYPE, USER_SCHEMA, USER_TYPE};
    use serde_json::json;

    fn err(v: Value) -> ScimError {
        normalize(&USER_TYPE, &v).unwrap_err()
    }

    #[test]
    fn unknown_schema_urns_without_data_are_ignored() {
        let n = normalize(
            &USER_TYPE,
            &json!({"userName": "a", "schemas": [USER_SCHEMA, "urn:x:y"]}),
        )
        .unwrap();
        assert_eq!(n.resource["schemas"], json!([USER_SCHEMA]));
        assert!(normalize(&USER_TYPE, &json!({"userName": "a", "schemas": [1]})).is_err());
    }

    #[test]
    fn canonicalises_names_and_drops_read_only() {
        let n = normalize(
            &USER_TYPE,
            &json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "UserName": "Alice@Example.com",
                "id": "client-chosen",
                "meta": {"resourceType": "User"},
                "NAME": {"GivenName": "Alice"},
                "active": "False",
                "roles": [],
                "groups": [{"value": "x"}],
                "emails": [{"Value": "a@x.com", "type": "work", "primary": "true"}],
                ENTERPRISE_USER_SCHEMA: {"employeeNumber": "42", "manager": "m1"},
                "password": "s3cret"
            }),
        )
        .unwrap();
        assert_eq!(
            n.resource,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "userName": "Alice@Example.com",
                "name": {"givenName": "Alice"},
                "active": false,
                "emails": [{"value": "a@x.com", "type": "work", "primary": true}],
                ENTERPRISE_USER_SCHEMA: {"employeeNumber": "42", "manager": {"value": "m1"}}
            })
        );
        assert_eq!(n.password.as_deref(), Some("s3cret"));
    }

    #[test]
    fn urn_qualified_top_level_keys_land_in_the_extension() {
        let n = normalize(
            &USER_TYPE,
            &json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D"}),
        )
        .unwrap();
        assert_eq!(n.resource[ENTERPRISE_USER_SCHEMA]["department"], "R&D");
        assert_eq!(n.resource["schemas"][1], ENTERPRISE_USER_SCHEMA);
    }

    #[test]
    fn rejects_bad_input_with_precise_errors() {
        let cases = vec![
            (json!([]), ScimType::InvalidSyntax, "JSON object"),
            (json!({}), ScimType::InvalidValue, "'userName' is required"),
            (
                json!({"userName": "  "}),
                ScimType::InvalidValue,
                "'userName' is required",
            ),
            (
                json!({"userName": 5}),
                ScimType::InvalidValue,
                "'userName' must be a string",
            ),
            (
                json!({"userName": "a", "bogus": 1}),
                ScimType::InvalidValue,
                "unknown attribute 'bogus'",
            ),
            (
                json!({"userName": "a", "active": "yes"}),
                ScimType::InvalidValue,
                "'active' must be a boolean",
            ),
            (
                json!({"userName": "a", "emails": "a@x"}),
                ScimType::InvalidValue,
                "must be an array",
            ),
            (
                json!({"userName": "a", "emails": [{"valu": "a@x"}]}),
                ScimType::InvalidValue,
                "unknown attribute 'emails[0].valu'",
            ),
            (
                json!({"userName": "a", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
                ScimType::InvalidValue,
                "primary",
            ),
            (
                json!({"userName": "a", "name": "x"}),
                ScimType::InvalidValue,
                "'name' must be an object",
            ),
            (
                json!({"userName": "a", "schemas": ["urn:x:y"], "urn:x:y": {"a": 1}}),
                ScimType::InvalidValue,
                "schema 'urn:x:y' is not a registered extension",
            ),
            (
                json!({"userName": "a", "name.givenName": "x"}),
                ScimType::InvalidValue,
                "unknown attribute",
            ),
            (
                json!({"userName": "a", "password": 1}),
                ScimType::InvalidValue,
                "password",
            ),
            (
                json!({"userName": "a\u{0}b"}),
                ScimType::InvalidValue,
                "NUL",
            ),
            (
                json!({"userName": "x".repeat(MAX_INDEXED_BYTES + 1)}),
                ScimType::InvalidValue,
                "'userName' is 2049 bytes long",
            ),
            (
                json!({"userName": "a", "emails": [{"value": "y".repeat(3000)}]}),
                ScimType::InvalidValue,
                "'emails.value' is 3000 bytes",
            ),
        ];
        for (input, ty, needle) in cases {
            let e = err(input.clone());
            assert_eq!(e.status, 400, "{input}");
            assert_eq!(e.scim_type, Some(ty), "{input}: {e}");
            assert!(e.detail.contains(needle), "{input}: {}", e.detail);
        }
    }

    #[test]
    fn group_members_are_parsed_and_deduplicated() {
        let n = normalize(
            &GROUP_TYPE,
            &json!({"displayName": "eng", "members": [
                {"value": "u1", "$ref": null, "display": "x"},
                {"value": "u1"},
                {"value": "g2", "type": "group"}
            ]}),
        )
        .unwrap();
        assert_eq!(
            n.members.unwrap(),
            vec![
                MemberRef {
                    value: "u1".into(),
                    kind: None
                },
                MemberRef {
                    value: "g2".into(),
                    kind: Some("Group".into())
                }
            ]
        );
        assert!(n.resource.get("members").is_none());
        let e = normalize(
            &GROUP_TYPE,
            &json!({"displayName": "x", "members": [{"type": "User"}]}),
        )
        .unwrap_err();
        assert!(e.detail.contains("members[0].value"));
    }

    #[test]
    fn projection_follows_rfc_7644_3_4_2_5() {
        let r = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "1",
            "userName": "a",
            "name": {"givenName": "G", "familyName": "F"},
            "emails": [{"value": "a@x", "type": "work"}, {"value": "b@x"}],
            ENTERPRISE_USER_SCHEMA: {"department": "D", "costCenter": "C"},
            "meta": {"resourceType": "User"}
        });
        let p = project(
            &USER_TYPE,
            &r,
            Some("userName,name.familyName,emails.value"),
            None,
        )
        .unwrap();
        assert_eq!(
            p,
            json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "id": "1", "userName": "a",
                   "name": {"familyName": "F"}, "emails": [{"value": "a@x"}, {"value": "b@x"}]})
        );
        let p = project(
            &USER_TYPE,
            &r,
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            None,
        )
        .unwrap();
        assert_eq!(p[ENTERPRISE_USER_SCHEMA], json!({"department": "D"}));
        let p = project(&USER_TYPE, &r, None, Some("emails,name.givenName,id,meta")).unwrap();
        assert_eq!(p["id"], "1");
        assert!(p.get("emails").is_none() && p.get("meta").is_none());
        assert_eq!(p["name"], json!({"familyName": "F"}));
        let p = project(&USER_TYPE, &r, None, Some(ENTERPRISE_USER_SCHEMA)).unwrap();
        assert!(p.get(ENTERPRISE_USER_SCHEMA).is_none());
        // returned=request: a member's display only when asked for.
        let g = json!({"schemas": [crate::schema::GROUP_SCHEMA], "id": "g", "displayName": "G",
                       "members": [{"value": "u1", "display": "Ann", "type": "User"}]});
        let p = project(&GROUP_TYPE, &g, None, None).unwrap();
        assert_eq!(p["members"], json!([{"value": "u1", "type": "User"}]));
        let p = project(&GROUP_TYPE, &g, Some("members.display"), None).unwrap();
        assert_eq!(p["members"], json!([{"display": "Ann"}]));
        let e = project(&USER_TYPE, &r, Some("nope"), None).unwrap_err();
        assert_eq!(e.status, 400);
    }
}
