//! Group membership as a delta.
//!
//! Members live in a junction table, so PATCH never rewrites the list: the
//! operations of one request are folded, in order, into a net
//! [`MemberDelta`] the store applies as `DELETE` (clear, then remove) and
//! `INSERT … ON CONFLICT DO NOTHING` (add).

use crate::resource::MemberRef;
use serde_json::{json, Value};

/// Net membership change of one PATCH request. The store applies it in this
/// order: `clear` (delete every member) if set, then delete `remove`, then
/// insert `add`. An id never appears in both `add` and `remove`, and when
/// `clear` is set `remove` is empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberDelta {
    pub clear: bool,
    pub add: Vec<MemberRef>,
    pub remove: Vec<String>,
}

impl MemberDelta {
    /// No membership change requested.
    pub fn is_empty(&self) -> bool {
        !self.clear && self.add.is_empty() && self.remove.is_empty()
    }

    /// Add `m` after everything folded so far (a later add of the same id
    /// keeps the first position; a known `type` is kept).
    pub fn add(&mut self, m: MemberRef) {
        self.remove.retain(|id| *id != m.value);
        match self.add.iter_mut().find(|a| a.value == m.value) {
            Some(existing) => {
                if m.kind.is_some() {
                    existing.kind = m.kind;
                }
            }
            None => self.add.push(m),
        }
    }

    /// Remove `id` after everything folded so far. After a `clear` only the
    /// ids added since can be members, so nothing needs deleting.
    pub fn remove(&mut self, id: &str) {
        self.add.retain(|a| a.value != id);
        if !self.clear && !self.remove.iter().any(|r| r == id) {
            self.remove.push(id.to_string());
        }
    }

    /// Remove every member (earlier adds and removes become moot).
    pub fn clear(&mut self) {
        self.clear = true;
        self.add.clear();
        self.remove.clear();
    }

    /// The member list after this delta, given the stored one (objects
    /// `{"value","type","display"}`), for evaluating a member filter.
    pub fn view(&self, stored: &[Value]) -> Vec<Value> {
        let mut out: Vec<Value> = if self.clear {
            vec![]
        } else {
            stored
                .iter()
                .filter(|m| {
                    let id = m.get("value").and_then(Value::as_str);
                    id.is_some_and(|id| {
                        !self.remove.iter().any(|r| r == id)
                            && !self.add.iter().any(|a| a.value == id)
                    })
                })
                .cloned()
                .collect()
        };
        // Members added in this request come last (the store appends them);
        // a re-added stored member keeps its stored type and display.
        for a in &self.add {
            let stored_copy = stored
                .iter()
                .find(|m| m.get("value").and_then(Value::as_str) == Some(a.value.as_str()));
            let mut v = match stored_copy {
                Some(s) => s.clone(),
                None => json!({"value": a.value}),
            };
            if let Some(k) = &a.kind {
                v["type"] = json!(k);
            }
            out.push(v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str) -> MemberRef {
        MemberRef {
            value: id.into(),
            kind: None,
        }
    }
    fn ids(v: &[MemberRef]) -> Vec<&str> {
        v.iter().map(|m| m.value.as_str()).collect()
    }

    #[test]
    fn remove_then_add_nets_to_add_and_add_then_remove_to_remove() {
        let mut d = MemberDelta::default();
        d.remove("x");
        d.add(m("x"));
        assert_eq!((ids(&d.add), d.remove.clone()), (vec!["x"], vec![]));
        let mut d = MemberDelta::default();
        d.add(m("x"));
        d.remove("x");
        assert!(d.add.is_empty());
        assert_eq!(d.remove, ["x"]);
        assert!(!d.is_empty());
    }

    #[test]
    fn clear_discards_earlier_changes_and_later_removes_only_undo_adds() {
        let mut d = MemberDelta::default();
        d.add(m("a"));
        d.remove("b");
        d.clear();
        d.add(m("c"));
        d.add(m("d"));
        d.remove("c");
        d.remove("zzz");
        assert!(d.clear);
        assert_eq!(ids(&d.add), ["d"]);
        assert!(d.remove.is_empty());
    }

    #[test]
    fn duplicates_collapse_and_type_is_kept() {
        let mut d = MemberDelta::default();
        d.add(m("a"));
        d.add(MemberRef {
            value: "a".into(),
            kind: Some("Group".into()),
        });
        d.add(m("a"));
        d.remove("b");
        d.remove("b");
        assert_eq!(d.add.len(), 1);
        assert_eq!(d.add[0].kind.as_deref(), Some("Group"));
        assert_eq!(d.remove, ["b"]);
    }

    #[test]
    fn view_reflects_the_delta() {
        let stored = vec![
            json!({"value": "a", "type": "User", "display": "A"}),
            json!({"value": "b", "type": "User", "display": "B"}),
        ];
        let mut d = MemberDelta::default();
        d.remove("a");
        d.add(m("c"));
        d.add(m("b"));
        let v = d.view(&stored);
        assert_eq!(
            v,
            vec![
                json!({"value": "c"}),
                json!({"value": "b", "type": "User", "display": "B"})
            ]
        );
        d.clear();
        d.add(m("b"));
        assert_eq!(
            d.view(&stored),
            vec![json!({"value": "b", "type": "User", "display": "B"})]
        );
    }
}
