//! Applying validated operations, in order, to a stored resource.
//!
//! Values are canonicalised with the `resource` normalisers as they are
//! applied (names, Entra's string booleans, types), the structural change
//! is made on a private copy, and the result is re-validated as a whole
//! with [`resource::normalize`]. Any error aborts the whole request.

use super::members::{DeltaBuilder, MemberDelta};
use super::path::{parse_path, PatchPath, Target};
use super::request::{in_op, PatchOp, PatchOpKind};
use super::selector::ValueSelector;
use crate::error::{ScimError, ScimResult};
use crate::resource::{
    self, normalize_attr, normalize_scalar, normalize_single, parse_member, MemberRef,
};
use crate::schema::{
    AttrDef, AttrScope, AttrType, ResolvedAttr, ResourceKind, ResourceTypeDef, SchemaDef,
};
use serde_json::{Map, Value};

/// What a PATCH request amounts to.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOutcome {
    /// The new canonical resource (as [`resource::normalize`] produces it:
    /// no `id`, `meta`, `password`, nor group `members`).
    pub resource: Value,
    /// Net membership change (groups only; empty otherwise).
    pub members: MemberDelta,
    /// A new password set by the request (users only).
    pub password: Option<String>,
    /// Whether anything may change: the resource differs, the member delta
    /// is not empty, or a password was given. A member delta cannot know
    /// whether an id was (or was not) a member, so removing a non-member
    /// still counts as a change; the store may refine it with row counts.
    pub changed: bool,
}

/// Apply `ops` to `current` (the stored canonical resource without `id`,
/// `meta`, `password` and group `members`). `load_members` is called at
/// most once, and only for a member filter other than `value eq "…"` (or
/// an `or` of those); it returns the stored members as
/// `{"value","type","display"}` objects.
pub fn apply(
    rt: &ResourceTypeDef,
    current: &Value,
    ops: &[PatchOp],
    load_members: &mut dyn FnMut() -> ScimResult<Vec<Value>>,
) -> ScimResult<PatchOutcome> {
    let doc = current
        .as_object()
        .ok_or_else(|| ScimError::new(500, None, "the stored resource is not a JSON object"))?
        .clone();
    let mut st = State {
        rt,
        doc,
        members: DeltaBuilder::default(),
        password: None,
        stored_members: None,
        load_members,
    };
    for (i, op) in ops.iter().enumerate() {
        crate::interrupt::check();
        st.op(op).map_err(|e| in_op(i, e))?;
    }
    let State {
        mut doc,
        members,
        password,
        ..
    } = st;
    let members = members.finish();
    doc.remove("schemas");
    let resource = resource::normalize(rt, &Value::Object(doc))?.resource;
    let before = resource::normalize(rt, current)
        .map(|n| n.resource)
        .unwrap_or_else(|_| current.clone());
    let changed = resource != before || !members.is_empty() || password.is_some();
    Ok(PatchOutcome {
        resource,
        members,
        password,
        changed,
    })
}

struct State<'a> {
    rt: &'a ResourceTypeDef,
    doc: Map<String, Value>,
    members: DeltaBuilder,
    password: Option<String>,
    stored_members: Option<Vec<Value>>,
    load_members: &'a mut dyn FnMut() -> ScimResult<Vec<Value>>,
}

impl State<'_> {
    fn op(&mut self, op: &PatchOp) -> ScimResult<()> {
        match &op.path {
            Some(p) => self.at_path(op.kind, p, op.value.as_ref()),
            None => self.without_path(op.kind, op.value.as_ref().unwrap_or(&Value::Null)),
        }
    }

    /// `add`/`replace` without a path: every member of the value object is
    /// an attribute path (`displayName`, `name.givenName`, a URN-qualified
    /// name, an extension URN with an object, even `emails[type eq "work"].value`).
    /// readOnly attributes (`id`, `meta`, `groups`, …) are ignored, as in a
    /// PUT body: Okta sends the group `id` along with a rename.
    fn without_path(&mut self, kind: PatchOpKind, value: &Value) -> ScimResult<()> {
        let obj = value.as_object().ok_or_else(|| {
            ScimError::invalid_value("without a 'path', the value must be an object of attributes")
        })?;
        for (k, v) in obj {
            if k.eq_ignore_ascii_case("schemas") {
                continue;
            }
            let path = parse_path(self.rt, k).map_err(|e| {
                ScimError::invalid_value(format!("value member '{}': {}", k, e.detail))
            })?;
            if let Target::Attr { attr, .. } = &path.target {
                if attr.attr.is_read_only() || attr.sub.is_some_and(|s| s.is_read_only()) {
                    continue;
                }
            }
            self.at_path(kind, &path, Some(v))?;
        }
        Ok(())
    }

    fn at_path(
        &mut self,
        kind: PatchOpKind,
        path: &PatchPath,
        value: Option<&Value>,
    ) -> ScimResult<()> {
        match &path.target {
            Target::Extension(ext) => self.extension(kind, ext, value),
            Target::Attr { attr, filter } => {
                let core = attr.scope == AttrScope::Core;
                match (self.rt.kind, attr.attr.name) {
                    (ResourceKind::Group, "members") if core => {
                        self.members_op(kind, attr, filter.as_deref(), value, &path.raw)
                    }
                    (ResourceKind::User, "password") if core => self.password_op(value),
                    _ => {
                        let container = self.container(attr);
                        match kind {
                            PatchOpKind::Remove => {
                                remove(container, attr, filter.as_deref(), value, &path.raw)
                            }
                            _ => set(
                                kind,
                                container,
                                attr,
                                filter.as_deref(),
                                value.unwrap_or(&Value::Null),
                                &path.raw,
                            ),
                        }
                    }
                }
            }
        }
    }

    /// The whole extension object: `remove` drops it; `add`/`replace` apply
    /// each attribute of the value object (readOnly ones are ignored).
    fn extension(
        &mut self,
        kind: PatchOpKind,
        ext: &'static SchemaDef,
        value: Option<&Value>,
    ) -> ScimResult<()> {
        let value = value.unwrap_or(&Value::Null);
        if kind == PatchOpKind::Remove || (kind == PatchOpKind::Replace && value.is_null()) {
            self.doc.remove(ext.id);
            return Ok(());
        }
        if value.is_null() {
            return Ok(());
        }
        let obj = value
            .as_object()
            .ok_or_else(|| ScimError::invalid_value(format!("'{}' must be an object", ext.id)))?;
        for (k, v) in obj {
            // Clients (scim2-tester) repeat `schemas` inside the value.
            if k.eq_ignore_ascii_case("schemas") {
                continue;
            }
            let attr = ext.attr(k).ok_or_else(|| {
                ScimError::invalid_value(format!("unknown attribute '{}:{}'", ext.id, k))
            })?;
            if attr.is_read_only() {
                continue;
            }
            let r = ResolvedAttr {
                scope: AttrScope::Extension(ext.id),
                attr,
                sub: None,
            };
            let label = r.canonical_path();
            set(kind, self.container(&r), &r, None, v, &label)?;
        }
        Ok(())
    }

    fn password_op(&mut self, value: Option<&Value>) -> ScimResult<()> {
        match value {
            Some(Value::String(s)) if !s.is_empty() => {
                self.password = Some(s.clone());
                Ok(())
            }
            _ => Err(ScimError::invalid_value(
                "'password' must be a non-empty string",
            )),
        }
    }

    fn members_op(
        &mut self,
        kind: PatchOpKind,
        attr: &ResolvedAttr,
        filter: Option<&ValueSelector>,
        value: Option<&Value>,
        raw: &str,
    ) -> ScimResult<()> {
        if let Some(sub) = attr.sub {
            return Err(ScimError::mutability(format!(
                "'{}' is {} and cannot be modified",
                raw,
                sub.mutability.as_str()
            )));
        }
        match (kind, filter) {
            (PatchOpKind::Add | PatchOpKind::Replace, Some(_)) => Err(ScimError::invalid_path(format!(
                "'{}': members are added or replaced as whole values; remove a member and add another instead",
                raw
            ))),
            (PatchOpKind::Add, None) => {
                for m in member_list(value, raw)? {
                    self.members.add(m);
                }
                Ok(())
            }
            (PatchOpKind::Replace, None) => {
                let list = member_list(value, raw)?;
                self.members.clear();
                for m in list {
                    self.members.add(m);
                }
                Ok(())
            }
            // Without a filter: no value clears the group; Entra's legacy
            // form lists the members to remove in `value`. Removing a
            // non-member is a no-op (Entra relies on it).
            (PatchOpKind::Remove, None) => {
                match value {
                    None | Some(Value::Null) => self.members.clear(),
                    Some(v) => {
                        for m in member_list(Some(v), raw)? {
                            self.members.remove(&m.value);
                        }
                    }
                }
                Ok(())
            }
            (PatchOpKind::Remove, Some(f)) => {
                let ids: Vec<String> = match f.member_ids() {
                    Some(ids) => ids,
                    None => {
                        if self.stored_members.is_none() {
                            self.stored_members = Some((self.load_members)()?);
                        }
                        let stored = self.stored_members.as_deref().unwrap_or(&[]);
                        let mut ids = vec![];
                        self.members.visit(stored, |m| {
                            if f.matches(m) {
                                if let Some(id) = m.get("value").and_then(Value::as_str) {
                                    ids.push(id.to_string());
                                }
                            }
                        });
                        ids
                    }
                };
                for id in ids {
                    self.members.remove(&id);
                }
                Ok(())
            }
        }
    }

    /// The object holding `r`: the resource, or its extension object.
    fn container(&mut self, r: &ResolvedAttr) -> &mut Map<String, Value> {
        match r.container_key() {
            None => &mut self.doc,
            Some(urn) => object_at(&mut self.doc, urn),
        }
    }
}

/// A `members` value: an array of member objects, or a single one.
fn member_list(value: Option<&Value>, raw: &str) -> ScimResult<Vec<MemberRef>> {
    match value {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, m)| parse_member(m, &format!("{}[{}]", raw, i)))
            .collect(),
        Some(v @ Value::Object(_)) => Ok(vec![parse_member(v, raw)?]),
        Some(_) => Err(ScimError::invalid_value(format!(
            "'{}' must be an array of member objects",
            raw
        ))),
    }
}

fn object_at<'m>(m: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let v = m
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(o) => o,
        _ => unreachable!("just made an object"),
    }
}

fn array_at<'m>(m: &'m mut Map<String, Value>, key: &str) -> &'m mut Vec<Value> {
    let v = m
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(vec![]));
    if !v.is_array() {
        *v = Value::Array(vec![]);
    }
    match v {
        Value::Array(a) => a,
        _ => unreachable!("just made an array"),
    }
}

/// Unassigned values are not kept (RFC 7643 §2.5).
fn drop_if_empty(m: &mut Map<String, Value>, key: &str) {
    let empty = match m.get(key) {
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        m.remove(key);
    }
}

fn is_empty_object(v: &Value) -> bool {
    matches!(v, Value::Object(o) if o.is_empty())
}

fn no_target(raw: &str, f: &ValueSelector) -> ScimError {
    ScimError::no_target(format!(
        "no value matches the filter [{}] of '{}'",
        f.raw(),
        raw
    ))
}

/// Indices of the elements of multi-valued `a` (stored at `v`) matching `f`.
fn matching(v: Option<&Value>, f: &ValueSelector) -> Vec<usize> {
    let mut out = vec![];
    if let Some(Value::Array(items)) = v {
        for (i, item) in items.iter().enumerate() {
            if f.matches(item) {
                out.push(i);
            }
        }
    }
    out
}

/// RFC 7644 §3.5.2.2.
fn remove(
    container: &mut Map<String, Value>,
    r: &ResolvedAttr,
    filter: Option<&ValueSelector>,
    value: Option<&Value>,
    raw: &str,
) -> ScimResult<()> {
    let (a, key) = (r.attr, r.attr.name);
    match (filter, r.sub) {
        (None, None) => {
            if a.required {
                return Err(ScimError::invalid_value(format!(
                    "'{}' is required and cannot be removed",
                    raw
                )));
            }
            match value {
                Some(v) if a.multi_valued && !v.is_null() => remove_values(container, a, v, raw)?,
                _ => {
                    container.remove(key);
                }
            }
        }
        (None, Some(sub)) => match container.get_mut(key) {
            Some(Value::Object(o)) => {
                o.remove(sub.name);
            }
            Some(Value::Array(items)) => {
                for item in items.iter_mut() {
                    if let Value::Object(o) = item {
                        o.remove(sub.name);
                    }
                }
                items.retain(|i| !is_empty_object(i));
            }
            _ => {}
        },
        (Some(f), sub) => {
            let hit = matching(container.get(key), f);
            if hit.is_empty() {
                // RFC 7644 §3.12: a filter that yields no match is `noTarget`.
                return Err(no_target(raw, f));
            }
            let items = array_at(container, key);
            match sub {
                None => {
                    let mut i = 0;
                    items.retain(|_| {
                        i += 1;
                        !hit.contains(&(i - 1))
                    });
                }
                Some(sub) => {
                    for &i in &hit {
                        if let Value::Object(o) = &mut items[i] {
                            o.remove(sub.name);
                        }
                    }
                    items.retain(|i| !is_empty_object(i));
                }
            }
        }
    }
    drop_if_empty(container, key);
    Ok(())
}

/// `remove` of a multi-valued attribute with a `value`: drop the elements
/// that carry every sub-attribute value of one of the given values.
fn remove_values(
    container: &mut Map<String, Value>,
    a: &AttrDef,
    v: &Value,
    raw: &str,
) -> ScimResult<()> {
    let list = match v {
        Value::Array(_) => v.clone(),
        other => Value::Array(vec![other.clone()]),
    };
    let Some(Value::Array(gone)) = normalize_attr(a, &list, raw)? else {
        return Ok(());
    };
    if let Some(Value::Array(items)) = container.get_mut(a.name) {
        items.retain(|item| !gone.iter().any(|g| contains(a, item, g)));
    }
    Ok(())
}

/// RFC 7644 §3.5.2.1 (add) and §3.5.2.3 (replace).
fn set(
    kind: PatchOpKind,
    container: &mut Map<String, Value>,
    r: &ResolvedAttr,
    filter: Option<&ValueSelector>,
    value: &Value,
    raw: &str,
) -> ScimResult<()> {
    let (a, key) = (r.attr, r.attr.name);
    match (filter, r.sub) {
        (None, None) if a.multi_valued => {
            let list = match value {
                Value::Array(_) | Value::Null => value.clone(),
                other => Value::Array(vec![other.clone()]),
            };
            let new = normalize_attr(a, &list, raw)?;
            match (kind, new) {
                (PatchOpKind::Replace, Some(v)) => {
                    container.insert(key.to_string(), v);
                }
                (PatchOpKind::Replace, None) => {
                    container.remove(key);
                }
                (_, Some(Value::Array(new))) => append_unique(array_at(container, key), a, new),
                _ => {}
            }
        }
        (None, None) if a.ty == AttrType::Complex => {
            let value = bare_reference(a, value);
            match normalize_single(a, &value, raw)? {
                // Both add and replace merge sub-attributes into a complex
                // value; those not given are left unchanged (§3.5.2.3).
                Some(Value::Object(new)) => object_at(container, key).extend(new),
                Some(_) => unreachable!("a complex value normalises to an object"),
                None if value.is_null() && kind == PatchOpKind::Replace => {
                    container.remove(key);
                }
                None => {}
            }
        }
        (None, None) => match normalize_scalar(a, value, raw)? {
            Some(v) => {
                container.insert(key.to_string(), v);
            }
            None if kind == PatchOpKind::Replace => {
                container.remove(key);
            }
            None => {}
        },
        (None, Some(sub)) => {
            let v = normalize_scalar(sub, value, raw)?;
            if a.multi_valued {
                // No filter: every element (creating one if there is none).
                let items = array_at(container, key);
                if items.is_empty() {
                    if let Some(v) = v {
                        items.push(Value::Object(Map::from_iter([(sub.name.to_string(), v)])));
                    }
                } else {
                    for item in items.iter_mut() {
                        set_sub(item, sub, v.clone());
                    }
                    items.retain(|i| !is_empty_object(i));
                }
            } else {
                set_sub(container.entry(key).or_insert(Value::Null), sub, v);
            }
        }
        (Some(f), sub) => {
            let hit = matching(container.get(key), f);
            if hit.is_empty() {
                return create_selected(container, a, f, sub, value, raw);
            }
            let items = array_at(container, key);
            let primary = match sub {
                Some(sub) => {
                    let v = normalize_scalar(sub, value, raw)?;
                    for &i in &hit {
                        set_sub(&mut items[i], sub, v.clone());
                    }
                    sub.name == "primary" && v == Some(Value::Bool(true))
                }
                None => {
                    let new = normalize_single(a, value, raw)?;
                    for &i in &hit {
                        match (&new, kind) {
                            (Some(Value::Object(n)), PatchOpKind::Add) => {
                                if let Value::Object(o) = &mut items[i] {
                                    o.extend(n.clone());
                                }
                            }
                            (Some(n), _) => items[i] = n.clone(),
                            (None, _) => items[i] = Value::Object(Map::new()),
                        }
                    }
                    new.as_ref().is_some_and(is_primary)
                }
            };
            if primary {
                clear_other_primaries(items, &hit);
            }
            items.retain(|i| !is_empty_object(i));
        }
    }
    drop_if_empty(container, key);
    Ok(())
}

/// Add/replace through a filter that matched nothing. When the filter is a
/// conjunction of `eq` comparisons it describes the element it selects, so
/// the element is created (Entra's `Add` on `emails[type eq "work"].value`;
/// we do the same for `replace`). Otherwise 400 `noTarget` (§3.5.2.3).
fn create_selected(
    container: &mut Map<String, Value>,
    a: &'static AttrDef,
    f: &ValueSelector,
    sub: Option<&'static AttrDef>,
    value: &Value,
    raw: &str,
) -> ScimResult<()> {
    let mut element = f.eq_terms().ok_or_else(|| no_target(raw, f))?;
    if value.is_null() {
        return Ok(()); // nothing to set on nothing
    }
    match sub {
        Some(sub) => {
            element.insert(sub.name.to_string(), value.clone());
        }
        None => match normalize_single(a, value, raw)? {
            Some(Value::Object(v)) => element.extend(v),
            _ => return Ok(()),
        },
    }
    let Some(element) = normalize_single(a, &Value::Object(element), raw)? else {
        return Ok(());
    };
    let primary = is_primary(&element);
    let items = array_at(container, a.name);
    items.push(element);
    if primary {
        let last = items.len() - 1;
        clear_other_primaries(items, &[last]);
    }
    Ok(())
}

/// Entra sends the enterprise `manager` as a bare id: `"m1"` means
/// `{"value":"m1"}` (and `""` means no manager).
fn bare_reference(a: &AttrDef, value: &Value) -> Value {
    match value {
        Value::String(s) if !a.multi_valued && a.sub("value").is_some() => {
            if s.is_empty() {
                Value::Null
            } else {
                Value::Object(Map::from_iter([("value".to_string(), value.clone())]))
            }
        }
        other => other.clone(),
    }
}

/// Set (or, for `None`, remove) sub-attribute `sub` of a complex value.
fn set_sub(target: &mut Value, sub: &AttrDef, v: Option<Value>) {
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(o) = target {
        match v {
            Some(v) => {
                o.insert(sub.name.to_string(), v);
            }
            None => {
                o.remove(sub.name);
            }
        }
    }
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// RFC 7643 §2.4: at most one `primary: true`. The element(s) just set
/// primary win; the flag is removed from the others.
fn clear_other_primaries(items: &mut [Value], keep: &[usize]) {
    for (i, item) in items.iter_mut().enumerate() {
        if !keep.contains(&i) && is_primary(item) {
            if let Value::Object(o) = item {
                o.remove("primary");
            }
        }
    }
}

/// `add` to a multi-valued attribute appends values not already present
/// (§3.5.2.1); a value equal to an existing one except for `primary` only
/// updates that flag.
fn append_unique(items: &mut Vec<Value>, a: &AttrDef, new: Vec<Value>) {
    let mut primaries = vec![];
    for n in new {
        let at = match items.iter().position(|e| same_value(a, e, &n)) {
            Some(p) => {
                if let (Value::Object(e), Some(flag)) = (&mut items[p], n.get("primary")) {
                    e.insert("primary".into(), flag.clone());
                }
                p
            }
            None => {
                items.push(n.clone());
                items.len() - 1
            }
        };
        if is_primary(&n) {
            primaries.push(at);
        }
    }
    if !primaries.is_empty() {
        clear_other_primaries(items, &primaries);
    }
}

/// Equality of two values of `a`, ignoring `primary`, with SCIM string
/// comparison rules (caseExact per sub-attribute).
fn same_value(a: &AttrDef, x: &Value, y: &Value) -> bool {
    match (x, y) {
        (Value::Object(p), Value::Object(q)) => {
            let keys = |m: &Map<String, Value>| m.keys().filter(|k| *k != "primary").count();
            keys(p) == keys(q) && contains(a, x, y)
        }
        _ => scalar_eq(a, x, y),
    }
}

/// Does element `x` carry every sub-attribute value of `y` (except `primary`)?
fn contains(a: &AttrDef, x: &Value, y: &Value) -> bool {
    match (x, y) {
        (Value::Object(p), Value::Object(q)) => {
            q.iter()
                .filter(|(k, _)| *k != "primary")
                .all(|(k, qv)| match (p.get(k), a.sub(k)) {
                    (Some(pv), Some(def)) => scalar_eq(def, pv, qv),
                    (Some(pv), None) => pv == qv,
                    (None, _) => false,
                })
        }
        _ => scalar_eq(a, x, y),
    }
}

fn scalar_eq(def: &AttrDef, x: &Value, y: &Value) -> bool {
    match (x, y) {
        (Value::String(p), Value::String(q)) if !def.case_exact => {
            crate::casefold::fold_case(p) == crate::casefold::fold_case(q)
        }
        _ => x == y,
    }
}
