//! RFC 7643 schema definitions (core User, Group, enterprise User extension)
//! and case-insensitive attribute resolution.
//!
//! The definitions are static data: they drive validation, filter typing,
//! PATCH paths, projection and the `/Schemas` discovery endpoint alike, so
//! there is exactly one place that says what an attribute is.

use serde_json::{json, Map, Value};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute (or sub-attribute) definition, RFC 7643 §7.
#[derive(Debug)]
pub struct AttrDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttrDef],
    pub description: &'static str,
    /// Defined by a tenant's registered extension schema
    /// ([`crate::extension`]): its canonicalValues are enforced on input
    /// (the core schemas' are only suggestions, RFC 7643 §7).
    pub registered: bool,
}

impl AttrDef {
    const fn base(name: &'static str, ty: AttrType) -> AttrDef {
        AttrDef {
            name,
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
            description: "",
            registered: false,
        }
    }
    pub const fn string(name: &'static str) -> AttrDef {
        Self::base(name, AttrType::String)
    }
    pub const fn boolean(name: &'static str) -> AttrDef {
        Self::base(name, AttrType::Boolean)
    }
    pub const fn date_time(name: &'static str) -> AttrDef {
        Self::base(name, AttrType::DateTime)
    }
    pub const fn binary(name: &'static str) -> AttrDef {
        Self::base(name, AttrType::Binary)
    }
    pub const fn reference(name: &'static str, types: &'static [&'static str]) -> AttrDef {
        let mut a = Self::base(name, AttrType::Reference);
        a.reference_types = types;
        a
    }
    pub const fn complex(name: &'static str, subs: &'static [AttrDef]) -> AttrDef {
        let mut a = Self::base(name, AttrType::Complex);
        a.sub_attributes = subs;
        a
    }
    pub const fn multi(mut self) -> AttrDef {
        self.multi_valued = true;
        self
    }
    pub const fn required(mut self) -> AttrDef {
        self.required = true;
        self
    }
    pub const fn case_exact(mut self) -> AttrDef {
        self.case_exact = true;
        self
    }
    pub const fn mutability(mut self, m: Mutability) -> AttrDef {
        self.mutability = m;
        self
    }
    pub const fn returned(mut self, r: Returned) -> AttrDef {
        self.returned = r;
        self
    }
    pub const fn unique(mut self) -> AttrDef {
        self.uniqueness = Uniqueness::Server;
        self
    }
    pub const fn canonical(mut self, values: &'static [&'static str]) -> AttrDef {
        self.canonical_values = values;
        self
    }
    pub const fn describe(mut self, d: &'static str) -> AttrDef {
        self.description = d;
        self
    }

    /// Case-insensitive sub-attribute lookup (attribute names are
    /// case-insensitive in SCIM, RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&'static AttrDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn is_read_only(&self) -> bool {
        self.mutability == Mutability::ReadOnly
    }

    /// RFC 7643 §7 representation, for `/Schemas`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.ty.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if self.ty != AttrType::Complex && self.ty != AttrType::Boolean {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.reference_types.is_empty() {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        if self.ty != AttrType::Complex && self.ty != AttrType::Boolean {
            m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        }
        if !self.sub_attributes.is_empty() {
            m.insert(
                "subAttributes".into(),
                Value::Array(self.sub_attributes.iter().map(|a| a.to_json()).collect()),
            );
        }
        Value::Object(m)
    }
}

#[derive(Debug)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttrDef],
}

impl SchemaDef {
    pub fn attr(&self, name: &str) -> Option<&'static AttrDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn to_json(&self) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
            "meta": {"resourceType": "Schema", "location": format!("/Schemas/{}", self.id)},
        })
    }
}

use Mutability::*;

const TYPE_WHP: &[&str] = &["work", "home", "other"];

const MULTI_STD: &[AttrDef] = &[
    AttrDef::string("value"),
    AttrDef::string("display"),
    AttrDef::string("type"),
    AttrDef::boolean("primary"),
];

const EMAIL_SUBS: &[AttrDef] = &[
    AttrDef::string("value").describe("Email address, canonicalized per RFC 5321"),
    AttrDef::string("display"),
    AttrDef::string("type").canonical(TYPE_WHP),
    AttrDef::boolean("primary"),
];

const PHONE_SUBS: &[AttrDef] = &[
    AttrDef::string("value"),
    AttrDef::string("display"),
    AttrDef::string("type").canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
    AttrDef::boolean("primary"),
];

const PHOTO_SUBS: &[AttrDef] = &[
    AttrDef::reference("value", &["external"]),
    AttrDef::string("display"),
    AttrDef::string("type").canonical(&["photo", "thumbnail"]),
    AttrDef::boolean("primary"),
];

const ADDRESS_SUBS: &[AttrDef] = &[
    AttrDef::string("formatted"),
    AttrDef::string("streetAddress"),
    AttrDef::string("locality"),
    AttrDef::string("region"),
    AttrDef::string("postalCode"),
    AttrDef::string("country"),
    AttrDef::string("type").canonical(TYPE_WHP),
    AttrDef::boolean("primary"),
];

const USER_GROUP_SUBS: &[AttrDef] = &[
    AttrDef::string("value").mutability(ReadOnly),
    AttrDef::reference("$ref", &["User", "Group"]).mutability(ReadOnly),
    AttrDef::string("display").mutability(ReadOnly),
    AttrDef::string("type")
        .canonical(&["direct", "indirect"])
        .mutability(ReadOnly),
];

const CERT_SUBS: &[AttrDef] = &[
    AttrDef::binary("value"),
    AttrDef::string("display"),
    AttrDef::string("type"),
    AttrDef::boolean("primary"),
];

const NAME_SUBS: &[AttrDef] = &[
    AttrDef::string("formatted"),
    AttrDef::string("familyName"),
    AttrDef::string("givenName"),
    AttrDef::string("middleName"),
    AttrDef::string("honorificPrefix"),
    AttrDef::string("honorificSuffix"),
];

pub static USER: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: &[
        AttrDef::string("userName")
            .required()
            .unique()
            .describe("Unique identifier for the User, case-insensitive"),
        AttrDef::complex("name", NAME_SUBS),
        AttrDef::string("displayName"),
        AttrDef::string("nickName"),
        AttrDef::reference("profileUrl", &["external"]),
        AttrDef::string("title"),
        AttrDef::string("userType"),
        AttrDef::string("preferredLanguage"),
        AttrDef::string("locale"),
        AttrDef::string("timezone"),
        AttrDef::boolean("active"),
        AttrDef::string("password")
            .mutability(WriteOnly)
            .returned(Returned::Never),
        AttrDef::complex("emails", EMAIL_SUBS).multi(),
        AttrDef::complex("phoneNumbers", PHONE_SUBS).multi(),
        AttrDef::complex("ims", MULTI_STD).multi(),
        AttrDef::complex("photos", PHOTO_SUBS).multi(),
        AttrDef::complex("addresses", ADDRESS_SUBS).multi(),
        AttrDef::complex("groups", USER_GROUP_SUBS)
            .multi()
            .mutability(ReadOnly),
        AttrDef::complex("entitlements", MULTI_STD).multi(),
        AttrDef::complex("roles", MULTI_STD).multi(),
        AttrDef::complex("x509Certificates", CERT_SUBS).multi(),
    ],
};

const MANAGER_SUBS: &[AttrDef] = &[
    AttrDef::string("value"),
    AttrDef::reference("$ref", &["User"]),
    AttrDef::string("displayName").mutability(ReadOnly),
];

pub static ENTERPRISE_USER: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &[
        AttrDef::string("employeeNumber"),
        AttrDef::string("costCenter"),
        AttrDef::string("organization"),
        AttrDef::string("division"),
        AttrDef::string("department"),
        AttrDef::complex("manager", MANAGER_SUBS),
    ],
};

// `display` is derived from the member (its displayName, else userName) and
// returned only on request: clients that compare members with what they
// sent (no display) see exactly that; `attributes=members.display` asks.
const MEMBER_SUBS: &[AttrDef] = &[
    AttrDef::string("value").mutability(Immutable).case_exact(),
    AttrDef::reference("$ref", &["User", "Group"]).mutability(Immutable),
    AttrDef::string("display")
        .mutability(ReadOnly)
        .returned(Returned::Request),
    AttrDef::string("type")
        .canonical(&["User", "Group"])
        .mutability(Immutable),
];

pub static GROUP: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: &[
        AttrDef::string("displayName").required().unique(),
        AttrDef::complex("members", MEMBER_SUBS).multi(),
    ],
};

const META_SUBS: &[AttrDef] = &[
    AttrDef::string("resourceType")
        .case_exact()
        .mutability(ReadOnly),
    AttrDef::date_time("created").mutability(ReadOnly),
    AttrDef::date_time("lastModified").mutability(ReadOnly),
    AttrDef::reference("location", &["uri"])
        .case_exact()
        .mutability(ReadOnly),
    AttrDef::string("version").case_exact().mutability(ReadOnly),
];

/// Attributes every resource carries (RFC 7643 §3.1), outside any schema.
pub static COMMON_ATTRIBUTES: &[AttrDef] = &[
    AttrDef::string("id")
        .case_exact()
        .mutability(ReadOnly)
        .returned(Returned::Always)
        .unique(),
    AttrDef::string("externalId").case_exact(),
    AttrDef::complex("meta", META_SUBS).mutability(ReadOnly),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

#[derive(Debug)]
pub struct ResourceTypeDef {
    pub kind: ResourceKind,
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static SchemaDef,
    /// (extension schema, required)
    pub extensions: &'static [(&'static SchemaDef, bool)],
}

/// Resource types are static singletons: equal when they are the same type.
impl PartialEq for ResourceTypeDef {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

pub static USER_TYPE: ResourceTypeDef = ResourceTypeDef {
    kind: ResourceKind::User,
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER,
    extensions: &[(&ENTERPRISE_USER, false)],
};

pub static GROUP_TYPE: ResourceTypeDef = ResourceTypeDef {
    kind: ResourceKind::Group,
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP,
    extensions: &[],
};

pub static RESOURCE_TYPES: &[&ResourceTypeDef] = &[&USER_TYPE, &GROUP_TYPE];
pub static SCHEMAS: &[&SchemaDef] = &[&USER, &GROUP, &ENTERPRISE_USER];

/// Where a resolved attribute lives in the JSON representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrScope {
    /// `id`, `externalId`, `meta`: top level, in no schema.
    Common,
    /// Top level, in the resource type's core schema.
    Core,
    /// Nested under the extension schema URN key.
    Extension(&'static str),
}

/// An attribute path resolved against a resource type:
/// `attr` and optionally its `sub` attribute.
#[derive(Clone, Copy, Debug)]
pub struct ResolvedAttr {
    pub scope: AttrScope,
    pub attr: &'static AttrDef,
    pub sub: Option<&'static AttrDef>,
}

impl ResolvedAttr {
    /// The definition the path ends on (sub-attribute if any).
    pub fn leaf(&self) -> &'static AttrDef {
        self.sub.unwrap_or(self.attr)
    }

    /// Canonical dotted path, URN-prefixed for extension attributes,
    /// e.g. `name.givenName` or `urn:…:enterprise:2.0:User:manager.value`.
    pub fn canonical_path(&self) -> String {
        let mut s = match self.scope {
            AttrScope::Extension(urn) => format!("{}:{}", urn, self.attr.name),
            _ => self.attr.name.to_string(),
        };
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(sub.name);
        }
        s
    }

    /// Defined by a tenant's registered extension schema.
    pub fn is_registered(&self) -> bool {
        self.attr.registered
    }

    /// The JSON object key that holds the attribute's container: `None` for
    /// top-level attributes, the URN for extension attributes.
    pub fn container_key(&self) -> Option<&'static str> {
        match self.scope {
            AttrScope::Extension(urn) => Some(urn),
            _ => None,
        }
    }
}

impl ResourceTypeDef {
    pub fn by_name(name: &str) -> Option<&'static ResourceTypeDef> {
        RESOURCE_TYPES
            .iter()
            .copied()
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }

    pub fn by_endpoint(segment: &str) -> Option<&'static ResourceTypeDef> {
        RESOURCE_TYPES
            .iter()
            .copied()
            .find(|r| r.endpoint[1..].eq_ignore_ascii_case(segment))
    }

    /// Schema URNs this resource type knows (core first).
    pub fn schema_urns(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.schema.id).chain(self.extensions.iter().map(|(s, _)| s.id))
    }

    /// Extension schema whose URN equals `urn` (case-insensitively).
    pub fn extension(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions
            .iter()
            .map(|(s, _)| *s)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// A top-level attribute by name: common or core.
    pub fn top_level(&self, name: &str) -> Option<(AttrScope, &'static AttrDef)> {
        if let Some(a) = COMMON_ATTRIBUTES
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
        {
            return Some((AttrScope::Common, a));
        }
        self.schema.attr(name).map(|a| (AttrScope::Core, a))
    }

    /// An attribute of a tenant's registered extension named without its
    /// URN (`quotaTokens`), as some IdPs write PATCH paths and filters:
    /// only when exactly one registered extension has it (registration
    /// keeps core names out of extensions, so a core name always wins).
    fn unqualified_registered(&self, name: &str) -> Option<(AttrScope, &'static AttrDef)> {
        let mut found = self.extensions.iter().filter_map(|(s, _)| {
            s.attr(name)
                .filter(|a| a.registered)
                .map(|a| (AttrScope::Extension(s.id), a))
        });
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// Resolve an attribute path: `attr`, `attr.sub`, or either prefixed by
    /// a schema URN (`urn:…:User:userName`, `urn:…:enterprise:2.0:User:manager.value`).
    /// Case-insensitive. Returns `None` for anything unknown.
    pub fn resolve(&self, path: &str) -> Option<ResolvedAttr> {
        let (schema_urn, rest) = split_urn(self, path)?;
        let (name, sub_name) = match rest.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        let (scope, attr) = match schema_urn {
            None => self
                .top_level(name)
                .or_else(|| self.unqualified_registered(name))?,
            Some(s) if s.id == self.schema.id => (AttrScope::Core, self.schema.attr(name)?),
            Some(s) => (AttrScope::Extension(s.id), s.attr(name)?),
        };
        let sub = match sub_name {
            None => None,
            Some(n) => Some(attr.sub(n)?),
        };
        Some(ResolvedAttr { scope, attr, sub })
    }
}

/// Split a leading schema URN off `path`. `Ok((None, path))` when there is
/// none; `None` when the path starts with an unknown `urn:`.
fn split_urn<'p>(
    rt: &ResourceTypeDef,
    path: &'p str,
) -> Option<(Option<&'static SchemaDef>, &'p str)> {
    if !path
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
    {
        return Some((None, path));
    }
    let schemas = std::iter::once(rt.schema).chain(rt.extensions.iter().map(|(s, _)| *s));
    for s in schemas {
        if path.len() > s.id.len() + 1
            && path.is_char_boundary(s.id.len())
            && path[..s.id.len()].eq_ignore_ascii_case(s.id)
            && path.as_bytes()[s.id.len()] == b':'
        {
            return Some((Some(s), &path[s.id.len() + 1..]));
        }
    }
    None
}

/// The `/ResourceTypes` representation.
pub fn resource_type_json(rt: &ResourceTypeDef) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.schema.id,
        "schemaExtensions": rt.extensions.iter().map(|(s, req)| json!({"schema": s.id, "required": req})).collect::<Vec<_>>(),
        "meta": {"resourceType": "ResourceType", "location": format!("/ResourceTypes/{}", rt.name)},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_case_insensitively_to_canonical_names() {
        let r = USER_TYPE.resolve("USERNAME").unwrap();
        assert_eq!(r.attr.name, "userName");
        assert_eq!(r.scope, AttrScope::Core);
        let r = USER_TYPE.resolve("name.FAMILYNAME").unwrap();
        assert_eq!(r.canonical_path(), "name.familyName");
        let r = USER_TYPE.resolve("externalid").unwrap();
        assert_eq!(r.scope, AttrScope::Common);
        assert!(r.attr.case_exact);
    }

    #[test]
    fn resolves_urn_paths() {
        let r = USER_TYPE
            .resolve("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")
            .unwrap();
        assert_eq!(r.scope, AttrScope::Extension(ENTERPRISE_USER_SCHEMA));
        assert_eq!(r.leaf().name, "value");
        let r = USER_TYPE
            .resolve("urn:ietf:params:scim:schemas:core:2.0:User:userName")
            .unwrap();
        assert_eq!(r.scope, AttrScope::Core);
        let r = USER_TYPE
            .resolve("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:department")
            .unwrap();
        assert_eq!(r.attr.name, "department");
    }

    #[test]
    fn unknown_paths_do_not_resolve() {
        assert!(USER_TYPE.resolve("nope").is_none());
        assert!(USER_TYPE.resolve("name.nope").is_none());
        assert!(USER_TYPE.resolve("urn:x:y:userName").is_none());
        assert!(GROUP_TYPE.resolve("userName").is_none());
        assert!(USER_TYPE
            .resolve("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
            .is_none());
    }

    #[test]
    fn schema_json_lists_every_attribute() {
        let v = USER.to_json();
        assert_eq!(
            v["attributes"].as_array().unwrap().len(),
            USER.attributes.len()
        );
        assert_eq!(v["attributes"][0]["name"], "userName");
        assert_eq!(v["attributes"][0]["uniqueness"], "server");
    }
}
