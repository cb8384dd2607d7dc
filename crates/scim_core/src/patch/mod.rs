//! PATCH engine (RFC 7644 §3.5.2), pure: no Postgres.
//!
//! ```text
//! let ops = patch::parse_request(rt, &body, &limits)?;        // 400/413 for the message itself
//! let out = patch::apply(rt, &stored, &ops, &mut load_members)?;
//! // out.resource: new canonical document; out.members: MemberDelta to
//! // DELETE/INSERT; out.password: new password (hash it); out.changed
//! ```
//!
//! * [`request`] validates the PatchOp message (member and op names are
//!   case-insensitive: Entra sends `Add`/`Replace`/`Remove`).
//! * [`path`] parses `attrPath [ "[" valFilter "]" ] [ "." subAttr ]`,
//!   URN-qualified or not, and resolves it against the schema.
//! * [`apply`](mod@apply) applies the operations in order to a copy of the
//!   stored resource and re-validates it with [`crate::resource::normalize`]
//!   (so `remove userName` is a 400). All or nothing.
//! * [`members`] folds group member operations into a [`MemberDelta`]
//!   (hash-indexed, linear in the number of members mentioned):
//!   the member list (possibly 100,000 rows) is never read, except to
//!   evaluate a member filter other than `value eq "…"` (or an `or` of
//!   those), through the `load_members` callback.
//!
//! # Rules and decisions
//!
//! * **add** to a multi-valued attribute appends values not already present
//!   (compared with the attribute's case rules, ignoring `primary`); to a
//!   complex single-valued attribute merges sub-attributes; elsewhere sets.
//! * **replace** of a multi-valued attribute replaces the list; of a complex
//!   attribute merges the given sub-attributes (§3.5.2.3: those not given
//!   are left unchanged); `null` unassigns.
//! * **Filtered targets** (`emails[type eq "work"].value`): the matching
//!   elements are changed. When nothing matches, `add` *and* `replace`
//!   create the element if the filter is a conjunction of `eq` comparisons
//!   (it describes that element: `{"type":"work","value":…}`; Entra relies
//!   on this for `Add`); any other filter is 400 `noTarget` (§3.5.2.3).
//! * **remove** with a filter that matches nothing is 400 `noTarget`
//!   (§3.12: "the specified path … contains a filter that yields no
//!   match"), except for group members, where removing a non-member is a
//!   successful no-op (Entra relies on it, and the delta cannot know).
//!   Removing an attribute that has no value succeeds. `remove` without a
//!   path is 400 `noTarget` (§3.5.2.2).
//! * **No path**: the value is an object whose members are attribute paths
//!   (`displayName`, `name.givenName`, `urn:…:User:employeeNumber`, an
//!   extension URN holding an object, even `emails[type eq "work"].value`).
//!   readOnly attributes in it (`id`, `meta`, `groups`, …) are **ignored**,
//!   not errors, as in a PUT body: Okta sends the group's `id` with a
//!   rename. (We cannot compare it with the resource id: `current` has
//!   none.) Unknown members are 400 `invalidValue`.
//! * An explicit path to a readOnly (`id`, `meta`, `groups`,
//!   `manager.displayName`) or immutable (`members[…].value`) attribute is
//!   400 `mutability`; unknown attributes and bad syntax are 400
//!   `invalidPath`; values of the wrong type are 400 `invalidValue`.
//! * Setting `primary: true` on one element removes the flag from the others.
//! * Entra's string booleans (`"False"`) become booleans; the enterprise
//!   `manager` given as a bare id becomes `{"value": id}` (`""` unassigns).
//! * `password` is returned in [`PatchOutcome::password`], never in the
//!   resource; it cannot be removed (400 `mutability`).
//! * Members: `add` adds (several at once, `$ref: null` and `display`
//!   accepted); `replace` clears then adds; `remove` without value clears;
//!   `remove` with a `value` list (Entra's legacy form) or with
//!   `members[value eq "…"]` removes those ids. Filters on members are only
//!   valid for `remove`. Ops are netted in order by [`DeltaBuilder`]
//!   (remove X then add X → add X; add X then remove X → remove X; a clear
//!   discards what came before) into a [`MemberDelta`]. Member ids are not
//!   validated here: ids that name no user/group are the store's concern.
//! * [`PatchOutcome::changed`] is false when the resource is unchanged, no
//!   member delta remains and no password was given (so the store can skip
//!   the write and keep `meta.version`).

pub mod apply;
pub mod members;
pub mod path;
pub mod request;
mod selector;

#[cfg(test)]
mod tests;

pub use apply::{apply, PatchOutcome};
pub use members::{DeltaBuilder, MemberDelta};
pub use path::{parse_path, PatchPath, Target};
pub use request::{
    member_adds_and_removes_only, parse_request, PatchOp, PatchOpKind, PATCH_OP_SCHEMA,
};
pub use selector::ValueSelector;
