//! [`BoundFilter`] → a boolean SQL expression over `scim.users` /
//! `scim.groups` (alias `r`), with every value passed as a text
//! placeholder. Must agree exactly with `eval.rs`.
//!
//! Every generated leaf is two-valued (never SQL NULL), so `NOT` is plain
//! negation: promoted columns use `(col IS NOT NULL AND col … $n)` (which
//! keeps them indexable), JSON leaves `COALESCE(…, false)`.
//!
//! Only canonical attribute names from the schema, fixed SQL and
//! placeholders appear in the text; never user input.

use std::borrow::Cow;

use super::ast::CompareOp;
use super::bind::{BoundAttr, BoundFilter, BoundValue};
use crate::casefold::fold_case;
use crate::error::{ScimError, ScimResult};
use crate::schema::{AttrDef, AttrScope, AttrType, ResolvedAttr, ResourceKind, ResourceTypeDef};

/// A compiled filter: `sql` uses placeholders `$first_param`,
/// `$first_param + 1`, … bound (as text) to `params` in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledFilter {
    pub sql: String,
    pub params: Vec<String>,
    /// The statement should be planned for each call's values: a pattern
    /// (`co`/`sw`/`ew`) or range (`gt`…) comparison has no selectivity in
    /// a generic plan, which may then walk the id order and filter every
    /// row of the tenant for a rare prefix. Equality lookups share one
    /// generic plan.
    pub per_call_plan: bool,
    /// The statement's plan depends on the tenant's size: a GIN lookup
    /// (emails) against walking the tenant's rows, which a kept generic
    /// plan decides for an average tenant (rows / tenants) and may get
    /// ruinously wrong for a large one. The caller keeps one plan per
    /// tenant (the tenant a literal in the statement), planned for that
    /// tenant's own statistics.
    pub plan_per_tenant: bool,
    /// At most one resource can match ([`matches_at_most_one`]): a list
    /// need not count its matches apart from the page.
    pub at_most_one: bool,
}

/// The SQL name of [`fold_case`] (declared in sql/storage.sql): what
/// caseExact=false columns are compared, indexed and sorted by.
pub const FOLD_SQL: &str = "scim.fold";

/// How a group member's `display` is derived, over a membership row `m`
/// and [`MEMBER_DISPLAY_JOINS`]: a user's displayName, else its userName;
/// a group's displayName. The one statement of the rule: `members.display`
/// filters and the rendering of a group's members (src/store/render.rs)
/// both use it.
pub const MEMBER_DISPLAY_SQL: &str =
    "CASE WHEN m.member_type = 'User' THEN COALESCE(u.display_name, u.user_name) ELSE g.display_name END";

/// The joins [`MEMBER_DISPLAY_SQL`] reads (`u`, `g`), from a membership row `m`.
pub const MEMBER_DISPLAY_JOINS: &str =
    " LEFT JOIN scim.users u ON u.tenant_id = m.tenant_id AND u.id = m.member_id \
LEFT JOIN scim.groups g ON g.tenant_id = m.tenant_id AND g.id = m.member_id";
const GROUP_DISPLAY_JOINS: &str =
    " LEFT JOIN scim.groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id";

/// A group row `r`'s version: the row's own plus the membership writes
/// recorded since it was last written (`scim.member_writes`,
/// sql/storage.sql). The one statement of the rule: rendering
/// (src/store/render.rs), the writers' If-Match check and `meta.version`
/// filters and sorts use it.
pub const GROUP_VERSION_SQL: &str =
    "(r.version + coalesce((SELECT sum(w.n) FROM scim.member_writes w \
WHERE w.tenant_id = r.tenant_id AND w.group_id = r.id), 0))::bigint";

/// A group row `r`'s lastModified, by the same rule as [`GROUP_VERSION_SQL`].
pub const GROUP_LAST_MODIFIED_SQL: &str = "greatest(r.last_modified, (SELECT max(w.at) \
FROM scim.member_writes w WHERE w.tenant_id = r.tenant_id AND w.group_id = r.id))";

/// `meta.lastModified` and `meta.version` (its number) of a row `r` of `rt`.
fn meta_last_modified(rt: &ResourceTypeDef) -> &'static str {
    match rt.kind {
        ResourceKind::Group => GROUP_LAST_MODIFIED_SQL,
        ResourceKind::User => "r.last_modified",
    }
}

fn meta_version(rt: &ResourceTypeDef) -> &'static str {
    match rt.kind {
        ResourceKind::Group => GROUP_VERSION_SQL,
        ResourceKind::User => "r.version",
    }
}

/// Where the sub-attributes of the current complex value live.
#[derive(Clone, Debug)]
enum Ctx {
    /// A JSON object expression (`e`, `r.resource->'name'`).
    Json(String),
    /// `meta`: promoted columns.
    Meta,
    /// A `scim.members m` row of this group.
    Members,
    /// A `scim.members m` row naming this user as member.
    UserGroups,
}

/// A scalar to compare.
#[derive(Clone, Debug)]
enum Leaf {
    /// `obj->'key'` (jsonb) / `obj->>'key'` (text).
    Json {
        obj: String,
        key: &'static str,
    },
    Text(String),
    /// One element of a multi-valued simple attribute (a jsonb expression).
    JsonElem(String),
    Uuid(String),
    Bool(String),
    Ts(String),
}

fn internal(detail: &str) -> ScimError {
    ScimError::invalid_filter(format!("filter cannot be compiled: {detail}"))
}

/// Escape `\`, `%`, `_` and add the wildcards for `co`/`sw`/`ew`.
pub fn like_pattern(value: &str, op: CompareOp) -> String {
    let mut esc = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        if matches!(c, '\\' | '%' | '_') {
            esc.push('\\');
        }
        esc.push(c);
    }
    match op {
        CompareOp::Co => format!("%{esc}%"),
        CompareOp::Sw => format!("{esc}%"),
        CompareOp::Ew => format!("%{esc}"),
        _ => esc,
    }
}

/// Canonical Postgres text form of a uuid (lowercase, hyphenated): only
/// such literals can equal `uuid::text`, and only they are cast.
pub fn is_canonical_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

fn sql_op(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "LIKE",
    }
}

fn json_present(jv: &str) -> String {
    format!(
        "COALESCE({jv} NOT IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{{}}'::jsonb), false)"
    )
}

/// (jsonb, text) expressions of a JSON leaf.
fn json_parts(leaf: &Leaf) -> (String, String) {
    match leaf {
        Leaf::Json { obj, key } => (format!("{obj}->'{key}'"), format!("{obj}->>'{key}'")),
        Leaf::JsonElem(e) => (e.clone(), format!("({e} #>> '{{}}')")),
        Leaf::Text(x) | Leaf::Uuid(x) | Leaf::Bool(x) | Leaf::Ts(x) => (x.clone(), x.clone()),
    }
}

fn is_meta(a: &ResolvedAttr) -> bool {
    a.scope == AttrScope::Common && a.attr.name == "meta"
}

/// The text of a registered single-valued string attribute, spelled the
/// way `scim_extension_index` indexes it.
pub fn extension_text(a: &ResolvedAttr) -> String {
    format!("({}->>'{}')", container(a), a.attr.name)
}

/// The jsonb value of a resource-level attribute (an extension's under
/// its URN), as filters compare it.
pub fn extension_value(a: &ResolvedAttr) -> String {
    json_value(a)
}

/// JSON object expression holding a resource-level attribute.
fn container(a: &ResolvedAttr) -> String {
    match a.scope {
        AttrScope::Extension(urn) => format!("r.resource->'{urn}'"),
        _ => "r.resource".to_string(),
    }
}

fn json_value(a: &ResolvedAttr) -> String {
    format!("{}->'{}'", container(a), a.attr.name)
}

struct Compiler<'a> {
    rt: &'a ResourceTypeDef,
    first: usize,
    params: Vec<String>,
    /// Set when a leaf needs the member/group display joins.
    needs_display_join: bool,
    /// Set by a pattern or range comparison (see [`CompiledFilter`]).
    per_call_plan: bool,
    /// Set by a GIN email lookup (see [`CompiledFilter`]).
    plan_per_tenant: bool,
}

impl Compiler<'_> {
    fn param(&mut self, v: String) -> String {
        self.params.push(v);
        format!("${}", self.first + self.params.len() - 1)
    }

    /// Multi-valued attributes stored in `scim.members`.
    fn table_ctx(&self, a: &ResolvedAttr) -> Option<Ctx> {
        match (self.rt.kind, a.scope, a.attr.name) {
            (ResourceKind::Group, AttrScope::Core, "members") => Some(Ctx::Members),
            (ResourceKind::User, AttrScope::Core, "groups") => Some(Ctx::UserGroups),
            _ => None,
        }
    }

    /// Context for the sub-attributes of one element of `a`.
    fn element_ctx(&self, a: &ResolvedAttr) -> Ctx {
        if let Some(c) = self.table_ctx(a) {
            return c;
        }
        if a.attr.multi_valued {
            Ctx::Json("e".into())
        } else if is_meta(a) {
            Ctx::Meta
        } else {
            Ctx::Json(json_value(a))
        }
    }

    /// `EXISTS (…)` over the elements of multi-valued `a`, with `cond`
    /// evaluated per element.
    fn exists(&mut self, a: &ResolvedAttr, cond: &str, joins: bool) -> String {
        match self.table_ctx(a) {
            Some(Ctx::Members) => format!(
                "EXISTS (SELECT 1 FROM scim.members m{} WHERE m.tenant_id = r.tenant_id AND m.group_id = r.id AND {cond})",
                if joins { MEMBER_DISPLAY_JOINS } else { "" }
            ),
            Some(_) => format!(
                "EXISTS (SELECT 1 FROM scim.members m{} WHERE m.tenant_id = r.tenant_id AND m.member_id = r.id AND m.member_type = 'User' AND {cond})",
                if joins { GROUP_DISPLAY_JOINS } else { "" }
            ),
            None => {
                let arr = json_value(a);
                format!(
                    "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof({arr}) WHEN 'array' THEN {arr} END) e WHERE {cond})"
                )
            }
        }
    }

    fn leaf_in(&mut self, ctx: &Ctx, sub: &'static AttrDef) -> ScimResult<Leaf> {
        Ok(match ctx {
            Ctx::Json(obj) => Leaf::Json {
                obj: obj.clone(),
                key: sub.name,
            },
            Ctx::Meta => match sub.name {
                "created" => Leaf::Ts("r.created".into()),
                "lastModified" => Leaf::Ts(meta_last_modified(self.rt).into()),
                "version" => Leaf::Text(format!("('W/\"' || {} || '\"')", meta_version(self.rt))),
                "resourceType" => Leaf::Text(format!("'{}'", self.rt.name)),
                _ => return Err(internal("meta.location is not filterable")),
            },
            Ctx::Members => match sub.name {
                "value" => Leaf::Uuid("m.member_id".into()),
                "type" => Leaf::Text("m.member_type".into()),
                "display" => {
                    self.needs_display_join = true;
                    Leaf::Text(format!("({MEMBER_DISPLAY_SQL})"))
                }
                _ => return Err(internal("members.$ref is not filterable")),
            },
            Ctx::UserGroups => match sub.name {
                "value" => Leaf::Uuid("m.group_id".into()),
                "display" => {
                    self.needs_display_join = true;
                    Leaf::Text("g.display_name".into())
                }
                _ => return Err(internal("groups.type and groups.$ref are not filterable")),
            },
        })
    }

    /// A simple (non-complex) resource-level attribute.
    fn top_leaf(&self, a: &ResolvedAttr) -> Leaf {
        let col = |c: &str| c.to_string();
        match (self.rt.kind, a.scope, a.attr.name) {
            (_, AttrScope::Common, "id") => Leaf::Uuid(col("r.id")),
            (_, AttrScope::Common, "externalId") => Leaf::Text(col("r.external_id")),
            (ResourceKind::User, AttrScope::Core, "userName") => Leaf::Text(col("r.user_name")),
            (_, AttrScope::Core, "displayName") => Leaf::Text(col("r.display_name")),
            (ResourceKind::User, AttrScope::Core, "active") => Leaf::Bool(col("r.active")),
            // A registered string attribute: the text expression an
            // `scim_extension_index` is built on (stored values always have
            // their schema type, so `->>` is NULL exactly when absent).
            (_, AttrScope::Extension(_), _)
                if a.attr.registered
                    && !a.attr.multi_valued
                    && matches!(a.attr.ty, AttrType::String | AttrType::Reference) =>
            {
                Leaf::Text(extension_text(a))
            }
            _ => Leaf::Json {
                obj: container(a),
                key: a.attr.name,
            },
        }
    }

    /// The comparison on a text expression `x` (may be NULL: the caller
    /// guards). Case-insensitive: `scim.fold(x)` against the literal folded
    /// here by the same function (one call per row, none per statement).
    fn text_cmp(&mut self, x: &str, ci: bool, op: CompareOp, s: &str) -> String {
        let (lhs, s) = if ci {
            (format!("{FOLD_SQL}({x})"), fold_case(s))
        } else {
            (x.to_string(), Cow::Borrowed(s))
        };
        if op.is_substring() {
            let p = self.param(like_pattern(&s, op));
            return format!("{lhs} LIKE {p}");
        }
        let p = self.param(s.into_owned());
        if op.is_ordering() {
            format!("({lhs} COLLATE \"C\") {} {p}", sql_op(op))
        } else {
            format!("{lhs} {} {p}", sql_op(op))
        }
    }

    fn leaf_compare(
        &mut self,
        leaf: &Leaf,
        def: &AttrDef,
        op: CompareOp,
        value: &BoundValue,
    ) -> ScimResult<String> {
        let ci = !def.case_exact;
        if op.is_ordering() || op.is_substring() {
            self.per_call_plan = true;
        }
        Ok(match (leaf, value) {
            (Leaf::Text(x), BoundValue::String(s)) => {
                format!("({x} IS NOT NULL AND {})", self.text_cmp(x, ci, op, s))
            }
            (Leaf::Uuid(x), BoundValue::String(s)) => {
                let v = if ci {
                    fold_case(s).into_owned()
                } else {
                    s.clone()
                };
                match op {
                    CompareOp::Eq | CompareOp::Ne if is_canonical_uuid(&v) => {
                        let p = self.param(v);
                        format!("({x} IS NOT NULL AND {x} {} {p}::uuid)", sql_op(op))
                    }
                    // Not a canonical uuid: equals no stored id (and
                    // differs from every present one); no cast, no error.
                    CompareOp::Eq => "false".to_string(),
                    CompareOp::Ne => format!("({x} IS NOT NULL)"),
                    _ => {
                        let t = format!("{x}::text");
                        format!("({x} IS NOT NULL AND {})", self.text_cmp(&t, ci, op, s))
                    }
                }
            }
            (Leaf::Bool(x), BoundValue::Bool(b)) => {
                let p = self.param(b.to_string());
                format!("({x} IS NOT NULL AND {x} {} {p}::boolean)", sql_op(op))
            }
            (Leaf::Ts(x), BoundValue::DateTime(_)) => {
                let p = self.param(value.param_text());
                format!("({x} IS NOT NULL AND {x} {} {p}::timestamptz)", sql_op(op))
            }
            (Leaf::Json { .. } | Leaf::JsonElem(_), BoundValue::String(s)) => {
                let (jv, txt) = json_parts(leaf);
                let cmp = self.text_cmp(&txt, ci, op, s);
                format!("COALESCE(jsonb_typeof({jv}) = 'string' AND {cmp}, false)")
            }
            (Leaf::Json { .. } | Leaf::JsonElem(_), BoundValue::Number(n)) => {
                let (jv, _) = json_parts(leaf);
                let p = self.param(n.to_string());
                format!(
                    "COALESCE(CASE WHEN jsonb_typeof({jv}) = 'number' THEN ({jv})::numeric {} {p}::numeric END, false)",
                    sql_op(op)
                )
            }
            (Leaf::Json { .. } | Leaf::JsonElem(_), BoundValue::Bool(b)) => {
                let p = self.param(b.to_string());
                let (jv, _) = json_parts(leaf);
                match op {
                    CompareOp::Eq => format!("COALESCE({jv} = to_jsonb({p}::boolean), false)"),
                    _ => format!(
                        "COALESCE(jsonb_typeof({jv}) = 'boolean' AND {jv} <> to_jsonb({p}::boolean), false)"
                    ),
                }
            }
            _ => {
                return Err(internal(&format!(
                    "unsupported comparison on attribute of type {}",
                    def.ty.as_str()
                )))
            }
        })
    }

    fn leaf_present(leaf: &Leaf) -> String {
        match leaf {
            Leaf::Json { .. } | Leaf::JsonElem(_) => json_present(&json_parts(leaf).0),
            Leaf::Text(x) => format!("({x} IS NOT NULL AND {x} <> '')"),
            Leaf::Uuid(x) | Leaf::Bool(x) | Leaf::Ts(x) => format!("({x} IS NOT NULL)"),
        }
    }

    /// `pr` on a complex attribute with no sub-attribute.
    fn complex_present(&mut self, a: &ResolvedAttr) -> String {
        if self.table_ctx(a).is_some() {
            self.exists(a, "true", false)
        } else if is_meta(a) {
            "true".to_string()
        } else {
            json_present(&json_value(a))
        }
    }

    /// The GIN pre-filter for `emails.value eq "x"`-style conditions.
    fn email_prefilter(&mut self, a: &ResolvedAttr, value: Option<&str>) -> Option<String> {
        let is_emails = self.rt.kind == ResourceKind::User
            && a.scope == AttrScope::Core
            && a.attr.name == "emails";
        let v = value.filter(|_| is_emails)?;
        // One plan per tenant: a kept generic plan estimates every tenant
        // at the average size (rows / tenants) and may then prefer walking
        // the tenant's rows over the GIN index, which reads the whole of a
        // large tenant (tests/pg_regress 12_tenant_indexes).
        self.plan_per_tenant = true;
        let p = self.param(fold_case(v).into_owned());
        Some(format!(
            "r.email_values IS NOT NULL AND r.email_values @> ARRAY[{p}]"
        ))
    }

    /// Compile `attr op value` / `attr pr` (`value` None).
    fn attr_cond(
        &mut self,
        b: &BoundAttr,
        cmp: Option<(CompareOp, &BoundValue)>,
        ctx: Option<&Ctx>,
    ) -> ScimResult<String> {
        let a = &b.resolved;
        let leaf_def = b.leaf();
        let on_leaf = |this: &mut Self, leaf: Leaf| match cmp {
            Some((op, v)) => this.leaf_compare(&leaf, leaf_def, op, v),
            None => Ok(Self::leaf_present(&leaf)),
        };
        if b.relative {
            let ctx = ctx.ok_or_else(|| internal("relative attribute outside a value filter"))?;
            let leaf = self.leaf_in(ctx, leaf_def)?;
            return on_leaf(self, leaf);
        }
        let Some(sub) = a.sub else {
            if a.attr.ty == AttrType::Complex {
                return Ok(self.complex_present(a));
            }
            if a.attr.multi_valued && cmp.is_some() {
                // any value of a multi-valued simple attribute
                let cond = on_leaf(self, Leaf::JsonElem("e".into()))?;
                return Ok(self.exists(a, &cond, false));
            }
            let leaf = self.top_leaf(a);
            return on_leaf(self, leaf);
        };
        let ectx = self.element_ctx(a);
        if !a.attr.multi_valued {
            let leaf = self.leaf_in(&ectx, sub)?;
            return on_leaf(self, leaf);
        }
        self.needs_display_join = false;
        let leaf = self.leaf_in(&ectx, sub)?;
        let cond = on_leaf(self, leaf)?;
        let joins = self.needs_display_join;
        let exists = self.exists(a, &cond, joins);
        let eq_value = match cmp {
            Some((CompareOp::Eq, BoundValue::String(s)))
                if sub.name == "value" && !sub.case_exact =>
            {
                Some(s.as_str())
            }
            _ => None,
        };
        Ok(match self.email_prefilter(a, eq_value) {
            Some(pre) => format!("({pre} AND {exists})"),
            None => exists,
        })
    }

    fn value_path(&mut self, a: &ResolvedAttr, inner: &BoundFilter) -> ScimResult<String> {
        let ectx = self.element_ctx(a);
        if !a.attr.multi_valued {
            let inner_sql = self.node(inner, Some(&ectx))?;
            return Ok(match &ectx {
                Ctx::Json(obj) => {
                    format!("(COALESCE(jsonb_typeof({obj}) = 'object', false) AND {inner_sql})")
                }
                _ => inner_sql,
            });
        }
        self.needs_display_join = false;
        let inner_sql = self.node(inner, Some(&ectx))?;
        let joins = self.needs_display_join;
        let cond = match &ectx {
            Ctx::Json(e) => format!("jsonb_typeof({e}) = 'object' AND {inner_sql}"),
            _ => inner_sql,
        };
        let exists = self.exists(a, &cond, joins);
        // `emails[value eq "x" and …]`: a conjunct pins the value.
        let conjuncts: &[BoundFilter] = match inner {
            BoundFilter::And(items) => items,
            other => std::slice::from_ref(other),
        };
        let eq_value = conjuncts.iter().find_map(|c| match c {
            BoundFilter::Compare {
                attr,
                op: CompareOp::Eq,
                value: BoundValue::String(s),
            } if attr.leaf().name == "value" && !attr.leaf().case_exact => Some(s.as_str()),
            _ => None,
        });
        Ok(match self.email_prefilter(a, eq_value) {
            Some(pre) => format!("({pre} AND {exists})"),
            None => exists,
        })
    }

    fn node(&mut self, f: &BoundFilter, ctx: Option<&Ctx>) -> ScimResult<String> {
        Ok(match f {
            BoundFilter::Compare { attr, op, value } => {
                self.attr_cond(attr, Some((*op, value)), ctx)?
            }
            BoundFilter::Present(attr) => self.attr_cond(attr, None, ctx)?,
            BoundFilter::And(items) | BoundFilter::Or(items) => {
                let sep = if matches!(f, BoundFilter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let parts = items
                    .iter()
                    .map(|i| self.node(i, ctx))
                    .collect::<ScimResult<Vec<_>>>()?;
                format!("({})", parts.join(sep))
            }
            BoundFilter::Not(inner) => format!("NOT ({})", self.node(inner, ctx)?),
            BoundFilter::ValuePath { attr, filter } => {
                if ctx.is_some() {
                    return Err(internal("nested value filter"));
                }
                self.value_path(attr, filter)?
            }
        })
    }
}

/// Compile a bound filter; placeholders start at `$first_param`.
pub fn compile_bound(
    rt: &ResourceTypeDef,
    f: &BoundFilter,
    first_param: usize,
) -> ScimResult<CompiledFilter> {
    let mut c = Compiler {
        rt,
        first: first_param,
        params: Vec::new(),
        needs_display_join: false,
        per_call_plan: false,
        plan_per_tenant: false,
    };
    let sql = c.node(f, None)?;
    Ok(CompiledFilter {
        sql,
        params: c.params,
        per_call_plan: c.per_call_plan,
        plan_per_tenant: c.plan_per_tenant,
        at_most_one: matches_at_most_one(rt, f),
    })
}

/// Whether the storage lets `f` match at most one resource of a tenant:
/// `id eq` (the primary key) or a user's `userName eq` (unique
/// case-insensitively, `users_user_name_ci`, as `eq` compares it), alone
/// or as a conjunct of an `and`.
pub fn matches_at_most_one(rt: &ResourceTypeDef, f: &BoundFilter) -> bool {
    match f {
        BoundFilter::Compare {
            attr,
            op: CompareOp::Eq,
            value: BoundValue::String(_),
        } => {
            let a = &attr.resolved;
            let unique = match a.scope {
                AttrScope::Common => a.attr.name == "id",
                AttrScope::Core => rt.kind == ResourceKind::User && a.attr.name == "userName",
                AttrScope::Extension(_) => false,
            };
            unique && a.sub.is_none() && !attr.relative
        }
        BoundFilter::And(items) => items.iter().any(|i| matches_at_most_one(rt, i)),
        _ => false,
    }
}

/// `ORDER BY` expression for `sortBy` (RFC 7644 §3.4.2.3). Strings sort
/// by bytes (`COLLATE "C"`) of their [`FOLD_SQL`] key unless caseExact; a multi-valued
/// attribute sorts by its primary value, else its first. Errors are 400
/// `invalidValue`.
pub fn compile_sort_key(rt: &ResourceTypeDef, attr_path: &str) -> ScimResult<String> {
    let bad = |why: &str| {
        Err(ScimError::invalid_value(format!(
            "cannot sort by '{attr_path}': {why}"
        )))
    };
    let Some(mut a) = rt.resolve(attr_path.trim()) else {
        return bad(&format!("unknown attribute for resource type {}", rt.name));
    };
    if a.sub.is_none() && a.attr.ty == AttrType::Complex && a.attr.multi_valued {
        a.sub = a.attr.sub("value");
    }
    let leaf = a.leaf();
    if leaf.returned == crate::schema::Returned::Never
        || a.attr.returned == crate::schema::Returned::Never
    {
        return bad("attribute is never returned");
    }
    if leaf.ty == AttrType::Complex {
        return bad("complex attribute; sort by one of its sub-attributes");
    }
    let c = Compiler {
        rt,
        first: 1,
        params: Vec::new(),
        needs_display_join: false,
        per_call_plan: false,
        plan_per_tenant: false,
    };
    if c.table_ctx(&a).is_some() {
        return bad("sorting by group membership is not supported");
    }
    let ci = !leaf.case_exact;
    let text_key = |x: String| {
        if ci {
            format!("{FOLD_SQL}({x}) COLLATE \"C\"")
        } else {
            format!("({x}) COLLATE \"C\"")
        }
    };
    if a.sub.is_none() && a.attr.multi_valued {
        return bad("multi-valued attribute without sub-attributes");
    }
    let json_key = |obj: String, key: &str| match leaf.ty {
        AttrType::Boolean => format!("({obj}->'{key}')"),
        AttrType::Integer | AttrType::Decimal => format!(
            "(CASE WHEN jsonb_typeof({obj}->'{key}') = 'number' THEN ({obj}->'{key}')::numeric END)"
        ),
        _ => text_key(format!("{obj}->>'{key}'")),
    };
    Ok(match a.sub {
        None => match c.top_leaf(&a) {
            Leaf::Text(x) => text_key(x),
            Leaf::Uuid(x) | Leaf::Bool(x) | Leaf::Ts(x) | Leaf::JsonElem(x) => x,
            Leaf::Json { obj, key } => json_key(obj, key),
        },
        Some(sub) if is_meta(&a) => match sub.name {
            "created" => "r.created".into(),
            "lastModified" => meta_last_modified(rt).into(),
            "version" => meta_version(rt).into(),
            _ => return bad("not sortable"),
        },
        Some(sub) if !a.attr.multi_valued => json_key(json_value(&a), sub.name),
        Some(sub) => {
            let arr = json_value(&a);
            let pick = if leaf.ty == AttrType::Boolean {
                format!("x.e->'{}'", sub.name)
            } else if ci {
                format!("{FOLD_SQL}(x.e->>'{}')", sub.name)
            } else {
                format!("x.e->>'{}'", sub.name)
            };
            let collate = if leaf.ty == AttrType::Boolean {
                ""
            } else {
                " COLLATE \"C\""
            };
            format!(
                "(SELECT {pick} FROM jsonb_array_elements(CASE jsonb_typeof({arr}) WHEN 'array' THEN {arr} END) WITH ORDINALITY AS x(e, n) \
ORDER BY (x.e->'primary' = 'true'::jsonb) IS TRUE DESC, x.n LIMIT 1){collate}"
            )
        }
    })
}
