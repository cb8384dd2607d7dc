//! Policy documents and their most-restrictive merge.
//!
//! Admins bind policy documents to SCIM groups. A user's effective policy is
//! the most-restrictive merge of the policies bound to all of their groups
//! ([`merge`]); a user in no bound group gets the default policy, if any;
//! otherwise, and for deactivated/deleted/unknown users, nothing
//! ([`Effective::nothing`]: empty allow).
//!
//! # Document format
//!
//! ```json
//! {"allow":   {"<domain>": ["item", ...] | "*"},
//!  "deny":    {"<domain>": ["item", ...] | "*"},
//!  "require": {"<name>": ["value", ...]},
//!  "limits":  {"<name>": <number>}}
//! ```
//!
//! Every top-level key is optional; any other key is rejected. Domains
//! (`skills`, `mcp_servers`, `plugins`, `models`, …) and requirement and
//! limit names are open-ended. [`validate`] enforces, with a precise
//! `invalidValue` detail (e.g. `allow.skills[2] must be a string`):
//!
//! * the document and each section are JSON objects;
//! * names and items are non-empty strings without leading/trailing
//!   whitespace (`" git"` would silently never match);
//! * `allow`/`deny` values are `"*"` or an array of strings; `"*"` is not a
//!   valid *item* (`["git", "*"]` is rejected: write `"*"`);
//! * duplicate items in one array are rejected (`allow.skills[3] duplicates
//!   allow.skills[1] ("git")`) — they are almost always a typo;
//! * `require` values are arrays of strings;
//! * limits are finite, non-negative numbers (integers stay exact).
//!
//! [`PolicyDoc::to_json`] is the normalised form: all four keys present,
//! keys and items sorted.
//!
//! ## Decisions
//!
//! * **`deny: {"<domain>": "*"}` is allowed** and denies every item of the
//!   domain. It is a kill switch one group can pull without knowing what the
//!   others allow; with union semantics, `"*"` absorbs any list.
//! * **`require` is a map name → list of strings** (`hooks` is one name
//!   among others); merged by union per name, sorted and de-duplicated.
//! * An `allow` domain with `[]` is valid and allows nothing, exactly like
//!   omitting it (explain reports "item not listed" rather than "domain not
//!   allowed").
//! * Matching is exact and case-sensitive. An empty item or `"*"` is never
//!   allowed by [`Effective::allows`] / [`allows_from`] (fail closed), even
//!   under an `allow` of `"*"`.
//!
//! # Merge rules
//!
//! * allow: intersection per domain, `"*"` being the identity. A policy that
//!   omits a domain allows nothing in it, so the effective domains are those
//!   present in *every* policy. Hence a quarantine policy `{}` bound to any
//!   of the user's groups disables everything.
//! * deny: union per domain. require: union per name. limits: minimum per
//!   name over the policies that set it (a limit nobody sets is unlimited).
//! * An item is allowed iff it is in the effective allow set (or the domain
//!   is `"*"`) and not in the effective deny set.
//! * No bound policies: the default policy; no default: nothing.
//! * Terms from group attributes ([`PolicyDoc::attribute_term`]) are
//!   policies bound to their group that constrain only what they name: an
//!   allow list of one domain (a domain they do not name is not narrowed
//!   by them), a limit, a required set, or a ranked enum (`levels`: the
//!   highest rank wins). `levels` appears in the output only when set.
//!
//! All output is deterministic (`BTreeMap`s, sorted lists). For the hot path
//! use [`allows_from`], which decides one `(domain, item)` without building
//! the merged policy, or keep an [`Effective`] and call
//! [`Effective::allows`]. [`explain`] reports which binding allowed, removed
//! or denied each item.

mod doc;
mod explain;
mod merge;

#[cfg(test)]
mod tests;

pub use doc::{validate, AttributeTerm, ItemSet, Level, Limit, PolicyDoc, WILDCARD};
pub use explain::explain;
pub use merge::{allows_from, merge, Effective, Origin, Source};
