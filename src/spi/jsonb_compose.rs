//! A jsonb object written directly in jsonb's binary format: a small JSON
//! head (a ListResponse's `schemas`, `totalResults`, …) plus one key whose
//! value is an array of jsonb documents SQL already rendered, copied in
//! byte for byte.
//!
//! Why: composing jsonb with jsonb functions (`jsonb_agg`, then
//! `jsonb_set` to put the page under the head) takes every document apart
//! into tokens and encodes it again, once per composition. For a page of
//! 1,000 users that was about a quarter of the page's time. A jsonb
//! container is self-contained (offsets are relative to the container;
//! alignment padding is relative to a 4-byte aligned start), so a
//! document's root container placed at a 4-byte aligned offset is a valid
//! nested container as it is.
//!
//! The layout written is the one `convertToJsonb` writes
//! (src/backend/utils/adt/jsonb_util.c, format of src/include/utils/jsonb.h):
//! a container is a header word (count | kind), one JEntry per child (an
//! object: all keys, then all values), then the children's data; a JEntry
//! holds its child's type and length, and every `JB_OFFSET_STRIDE`th one
//! the end offset instead (`JENTRY_HAS_OFF`); object keys are sorted by
//! length, then bytes, and unique; numerics and containers are padded to
//! 4 bytes, the padding counting as part of their data.

use super::jsonb::{internal, JsonbDatum};
use pgrx::pg_sys::{self, Datum};
use pgrx::{direct_function_call_as_datum, IntoDatum};
use scim_core::{ScimError, ScimResult};
use serde_json::{Map, Value};
use std::ffi::CString;

const STRIDE: usize = pg_sys::JB_OFFSET_STRIDE as usize;
const OFFLEN_MAX: usize = pg_sys::JENTRY_OFFLENMASK as usize;

/// A value to encode: JSON from Rust, or documents SQL rendered.
enum Node<'a> {
    Json(&'a Value),
    Documents(&'a [JsonbDatum]),
}

/// `head` with `key` added, whose value is the array of `documents` (each
/// a jsonb object or array, copied as it is).
pub fn object_with_documents(
    head: &Map<String, Value>,
    key: &str,
    documents: &[JsonbDatum],
) -> ScimResult<JsonbDatum> {
    if head.contains_key(key) {
        return Err(internal(&format!("the head already has '{key}'")));
    }
    let mut pairs: Vec<(&str, Node)> = head
        .iter()
        .map(|(k, v)| (k.as_str(), Node::Json(v)))
        .collect();
    pairs.push((key, Node::Documents(documents)));
    let mut out = Encoder {
        buf: vec![0; pg_sys::VARHDRSZ],
    };
    match out.object(pairs) {
        Ok(_) => out.into_datum(),
        Err(Unencodable::Nul) => Err(internal("a list head string with U+0000")),
        Err(Unencodable::Scim(e)) => Err(e),
    }
}

/// A JSON object or array from Rust, in jsonb's binary format: what
/// `jsonb_in` makes of its text, without printing and parsing it (the
/// text round trip was most of the cost of handing a written resource or
/// a reply to SQL). `None` for what `jsonb_in` must decide: a scalar (its
/// root is a marked one-element array) or a string with U+0000 (which
/// jsonb cannot hold, and `jsonb_in` refuses).
pub fn document(value: &Value) -> ScimResult<Option<JsonbDatum>> {
    if !(value.is_object() || value.is_array()) {
        return Ok(None);
    }
    let mut out = Encoder {
        buf: vec![0; pg_sys::VARHDRSZ],
    };
    match out.json(value) {
        Err(Unencodable::Nul) => Ok(None),
        Err(Unencodable::Scim(e)) => Err(e),
        Ok(_) => out.into_datum().map(Some),
    }
}

/// Why a value was not encoded: U+0000 in a string (for `jsonb_in` to
/// refuse, as it always has), or an error.
enum Unencodable {
    Nul,
    Scim(ScimError),
}

impl From<ScimError> for Unencodable {
    fn from(e: ScimError) -> Self {
        Unencodable::Scim(e)
    }
}

type Enc<T> = Result<T, Unencodable>;

/// The encoder's buffer starts with room for the varlena header, so that
/// 4-byte alignment within it is alignment of the finished datum.
struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// Pad to 4 bytes; returns the padding written.
    fn pad(&mut self) -> usize {
        let n = (4 - self.buf.len() % 4) % 4;
        self.buf.extend(std::iter::repeat_n(0u8, n));
        n
    }

    fn word(&mut self, w: u32) {
        self.buf.extend_from_slice(&w.to_ne_bytes());
    }

    fn set_word(&mut self, at: usize, w: u32) {
        if let Some(slot) = self.buf.get_mut(at..at + 4) {
            slot.copy_from_slice(&w.to_ne_bytes());
        }
    }

    /// A container of `n` children: its header and room for their JEntries;
    /// returns where the container started (before padding) and where the
    /// JEntries go.
    fn open(&mut self, n: usize, kind: u32, entries: usize) -> Enc<(usize, usize)> {
        if n > pg_sys::JB_CMASK as usize {
            return Err(internal("too many elements for one jsonb container").into());
        }
        let start = self.buf.len();
        self.pad();
        self.word(n as u32 | kind);
        let at = self.buf.len();
        self.buf.resize(at + 4 * entries, 0);
        Ok((start, at))
    }

    /// Record child `i`'s JEntry (type `kind`, `len` bytes of data, `total`
    /// bytes of data so far including it).
    fn entry(
        &mut self,
        entries_at: usize,
        i: usize,
        kind: u32,
        len: usize,
        total: usize,
    ) -> Enc<()> {
        if total > OFFLEN_MAX {
            return Err(internal("jsonb value larger than the format allows").into());
        }
        let field = if i.is_multiple_of(STRIDE) {
            total as u32 | pg_sys::JENTRY_HAS_OFF
        } else {
            len as u32
        };
        self.set_word(entries_at + 4 * i, kind | field);
        Ok(())
    }

    /// A container's JEntry for its parent: its length from `start`.
    fn close(&self, start: usize) -> (u32, usize) {
        (pg_sys::JENTRY_ISCONTAINER, self.buf.len() - start)
    }

    fn object(&mut self, mut pairs: Vec<(&str, Node)>) -> Enc<(u32, usize)> {
        // jsonb's key order: shorter first, then bytewise.
        pairs.sort_by(|a, b| {
            a.0.len()
                .cmp(&b.0.len())
                .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
        });
        let n = pairs.len();
        let (start, entries) = self.open(n, pg_sys::JB_FOBJECT, 2 * n)?;
        let mut total = 0;
        for (i, (k, _)) in pairs.iter().enumerate() {
            if k.contains('\0') {
                return Err(Unencodable::Nul);
            }
            self.buf.extend_from_slice(k.as_bytes());
            total += k.len();
            self.entry(entries, i, pg_sys::JENTRY_ISSTRING, k.len(), total)?;
        }
        for (i, (_, v)) in pairs.iter().enumerate() {
            let (kind, len) = self.node(v)?;
            total += len;
            self.entry(entries, n + i, kind, len, total)?;
        }
        Ok(self.close(start))
    }

    fn array<T>(
        &mut self,
        items: &[T],
        mut each: impl FnMut(&mut Self, &T) -> Enc<(u32, usize)>,
    ) -> Enc<(u32, usize)> {
        let (start, entries) = self.open(items.len(), pg_sys::JB_FARRAY, items.len())?;
        let mut total = 0;
        for (i, item) in items.iter().enumerate() {
            let (kind, len) = each(self, item)?;
            total += len;
            self.entry(entries, i, kind, len, total)?;
        }
        Ok(self.close(start))
    }

    /// Write a child's data; returns its JEntry type and data length.
    fn node(&mut self, node: &Node) -> Enc<(u32, usize)> {
        match node {
            Node::Documents(docs) => self.array(docs, |e, d| e.document(d)),
            Node::Json(v) => self.json(v),
        }
    }

    fn json(&mut self, v: &Value) -> Enc<(u32, usize)> {
        Ok(match v {
            Value::Null => (pg_sys::JENTRY_ISNULL, 0),
            Value::Bool(false) => (pg_sys::JENTRY_ISBOOL_FALSE, 0),
            Value::Bool(true) => (pg_sys::JENTRY_ISBOOL_TRUE, 0),
            Value::String(s) => {
                if s.contains('\0') {
                    return Err(Unencodable::Nul);
                }
                self.buf.extend_from_slice(s.as_bytes());
                (pg_sys::JENTRY_ISSTRING, s.len())
            }
            Value::Number(n) => {
                let numeric = numeric(&n.to_string())?;
                let pad = self.pad();
                self.buf.extend_from_slice(&numeric);
                (pg_sys::JENTRY_ISNUMERIC, pad + numeric.len())
            }
            Value::Array(items) => self.array(items, |e, v| e.json(v))?,
            Value::Object(map) => self.object(
                map.iter()
                    .map(|(k, v)| (k.as_str(), Node::Json(v)))
                    .collect(),
            )?,
        })
    }

    /// A rendered document's root container, copied at a 4-byte boundary.
    fn document(&mut self, d: &JsonbDatum) -> Enc<(u32, usize)> {
        let data = d.container();
        let header = data
            .first_chunk::<4>()
            .map(|h| u32::from_ne_bytes(*h))
            .ok_or_else(|| internal("an empty jsonb document"))?;
        // A raw scalar's root is a one-element array marked scalar: not a
        // container an array can hold as it is.
        if header & pg_sys::JB_FSCALAR != 0 {
            return Err(internal("a rendered document is a scalar").into());
        }
        let start = self.buf.len();
        self.pad();
        self.buf.extend_from_slice(data);
        Ok(self.close(start))
    }

    fn into_datum(self) -> ScimResult<JsonbDatum> {
        let len = self.buf.len();
        if len - pg_sys::VARHDRSZ > OFFLEN_MAX {
            return Err(internal("jsonb value larger than the format allows"));
        }
        // SAFETY: a fresh palloc of `len` bytes (the current memory
        // context: the caller's), filled with the encoded container after
        // its varlena header.
        unsafe {
            let p = pg_sys::palloc(len) as *mut u8;
            std::ptr::copy_nonoverlapping(self.buf.as_ptr(), p, len);
            pgrx::varlena::set_varsize_4b(p as *mut pg_sys::varlena, len as i32);
            Ok(JsonbDatum::from_datum(Datum::from(p)))
        }
    }
}

/// A JSON number as a numeric datum's bytes (jsonb stores numbers as
/// numeric, header included).
fn numeric(text: &str) -> ScimResult<Vec<u8>> {
    let c = CString::new(text).map_err(|_| internal("a number with a NUL byte"))?;
    // SAFETY: numeric_in(cstring, oid, int4) on a number serde printed.
    unsafe {
        let d = direct_function_call_as_datum(
            pg_sys::numeric_in,
            &[
                Some(Datum::from(c.as_ptr())),
                pg_sys::InvalidOid.into_datum(),
                (-1i32).into_datum(),
            ],
        )
        .ok_or_else(|| internal("numeric_in returned NULL"))?;
        let v = d.cast_mut_ptr::<pg_sys::varlena>();
        Ok(std::slice::from_raw_parts(v as *const u8, pgrx::varlena::varsize_any(v)).to_vec())
    }
}

// Tests: a failed expectation is meant to panic.
#[cfg(any(test, feature = "pg_test"))]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#[pgrx::pg_schema]
mod tests {
    use super::{document as encode, object_with_documents};
    use crate::spi::jsonb::JsonbDatum;
    use pgrx::prelude::*;
    use serde_json::{json, Map, Value};

    fn bytes(d: &JsonbDatum) -> Vec<u8> {
        d.container().to_vec()
    }

    /// Composed from `head` and `docs` == what jsonb_in makes of the same
    /// JSON, byte for byte (so: the same value, the same text, every jsonb
    /// function reads it alike).
    fn check(head: Value, docs: Vec<Value>) {
        let head = head.as_object().cloned().unwrap();
        let datums: Vec<JsonbDatum> = docs
            .iter()
            .map(|d| JsonbDatum::through_text(d.clone()).unwrap())
            .collect();
        let composed = object_with_documents(&head, "Resources", &datums).unwrap();
        let mut whole = head.clone();
        whole.insert("Resources".into(), Value::Array(docs));
        let expected = JsonbDatum::through_text(Value::Object(whole)).unwrap();
        assert_eq!(
            bytes(&composed),
            bytes(&expected),
            "head {head:?}, {} documents",
            datums.len()
        );
    }

    /// A deterministic document with strings of every length modulo 4
    /// (padding before the next numeric or container), numerics, nested
    /// containers and more than 32 keys in some (JEntry offsets).
    fn document(seed: u64) -> Value {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 33
        };
        let keys = 1 + next() % 40;
        let mut m = Map::new();
        for k in 0..keys {
            let key = "k".repeat(1 + (next() % 5) as usize) + &k.to_string();
            let v = match next() % 7 {
                0 => json!("x".repeat((next() % 9) as usize)),
                1 => json!(next() as i64 - 1_000_000),
                2 => json!((next() % 1000) as f64 / 7.0),
                3 => json!([next() % 3 == 0, null, "ü€", {"n": next()}]),
                4 => json!({"a": {"b": [1, "two", 3.5]}, "s": "\"quoted\"\\\n"}),
                5 => Value::Null,
                _ => json!([]),
            };
            m.insert(key, v);
        }
        Value::Object(m)
    }

    #[pg_test]
    fn list_response_is_byte_identical_to_jsonb_in() {
        let head = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 1_000_000, "startIndex": 1, "itemsPerPage": 0
        });
        check(head.clone(), vec![]);
        for n in [1usize, 2, 31, 32, 33, 64, 65, 200] {
            check(head.clone(), (0..n as u64).map(document).collect());
        }
        // Arrays are documents too; so are empty objects.
        check(head.clone(), vec![json!([1, 2]), json!({}), json!([])]);
    }

    #[pg_test]
    fn documents_encoded_directly_are_byte_identical_to_jsonb_in() {
        let same = |v: Value| {
            let direct = encode(&v).unwrap().unwrap();
            let text = JsonbDatum::through_text(v.clone()).unwrap();
            assert_eq!(bytes(&direct), bytes(&text), "{v}");
        };
        for seed in 0..300 {
            same(document(seed));
        }
        same(json!([]));
        same(json!({}));
        same(json!([
            null,
            true,
            false,
            0,
            -0.0,
            1e-300,
            123456789012345678_i64,
            "",
            "ü€\u{1}"
        ]));
        same(json!({"a": [[[[{"b": [[]]}]]]], "": {"": ""}}));
        same(Value::Array(
            (0..100).map(|i| json!("x".repeat(i % 9))).collect(),
        ));
        // What jsonb_in decides is left to it: scalars, and U+0000 (which
        // it refuses, so from_value still does).
        assert!(encode(&json!("scalar")).unwrap().is_none());
        assert!(encode(&json!(1)).unwrap().is_none());
        assert!(encode(&json!({"a": ["x\u{0}"]})).unwrap().is_none());
        assert!(encode(&json!({"k\u{0}": 1})).unwrap().is_none());
        let one = JsonbDatum::from_value(json!(1)).unwrap();
        assert_eq!(one.to_value().unwrap(), json!(1));
        let accepted = PgTryBuilder::new(|| JsonbDatum::from_value(json!(["\u{0}"])).is_ok())
            .catch_others(|_| false)
            .execute();
        assert!(!accepted, "jsonb_in took a string with U+0000");
    }

    /// jsonb_decode reads what jsonb_out + serde read, value for value
    /// (key order included), or declines where the text path decides.
    #[pg_test]
    fn documents_read_directly_equal_the_text_path() {
        use crate::spi::jsonb_decode::decode;
        let same = |v: Value| {
            let d = JsonbDatum::through_text(v.clone()).unwrap();
            let text = d.to_value_through_text().unwrap();
            let direct = decode(&bytes(&d)).expect("decoded");
            assert_eq!(direct, text, "{v}");
            assert_eq!(
                serde_json::to_string(&direct).unwrap(),
                serde_json::to_string(&text).unwrap(),
                "key order of {v}"
            );
        };
        for seed in 0..300 {
            same(document(seed));
        }
        for v in [
            json!(null),
            json!(true),
            json!("scalar"),
            json!(-12.5),
            json!(18446744073709551615_u64),
            json!(-9223372036854775808_i64),
            json!(1e-300),
            json!(0.1),
            json!([]),
            json!({}),
            json!({"ü€": ["\u{1}", "\"\\"], "": {"": 1.0}}),
        ] {
            same(v);
        }
        // Nesting at serde's limit, and numbers serde cannot hold: the
        // text path decides (and fails as it always has).
        let deep = (0..125).fold(json!(1), |v, _| json!([v]));
        let d = JsonbDatum::through_text(deep).unwrap();
        assert!(decode(&bytes(&d)).is_none());
        let mut declined = false;
        crate::spi::for_each_row("SELECT '{\"n\": 1e400}'::jsonb", &[], |row| {
            declined = decode(&bytes(&row.jsonb(1).unwrap())).is_none();
            Ok(())
        })
        .unwrap();
        assert!(declined, "a number beyond f64 must go the text way");
    }

    #[pg_test]
    fn heads_of_every_json_shape() {
        let mut many = Map::new();
        for k in 0..70 {
            many.insert(
                format!("key{}", "x".repeat(k % 7) + &k.to_string()),
                json!(k),
            );
        }
        for head in [
            json!({}),
            json!({"nextCursor": "eyJhZnRlciI6IjEifQ", "totalResults": 9007199254740993_u64}),
            json!({"neg": -5, "float": 1.5e300, "tiny": 2.5e-7, "zero": 0, "t": true, "f": false, "n": null}),
            json!({"s": "ü€ \"q\" \\ \n\t\u{1}", "": "empty key", "nested": {"bb": [1, {"a": []}], "a": {}}}),
            Value::Object(many),
        ] {
            check(head, vec![document(7), document(8)]);
        }
    }

    #[pg_test]
    fn documents_read_from_a_table_keep_their_bytes() {
        // Stored rows come back with short (packed) varlena headers,
        // compressed or TOASTed; what is copied is the container either way.
        Spi::run(
            "CREATE TEMP TABLE docs AS SELECT i, CASE WHEN i % 2 = 0 THEN jsonb_build_object('i', i) \
             ELSE (SELECT jsonb_object_agg('k' || j, repeat(md5(i::text || j), 1 + j % 40)) \
                     FROM generate_series(1, 400) j) END AS d FROM generate_series(1, 6) i",
        )
        .unwrap();
        let mut stored = Vec::new();
        crate::spi::for_each_row("SELECT d FROM docs ORDER BY i", &[], |row| {
            stored.push(row.jsonb(1).unwrap());
            Ok(())
        })
        .unwrap();
        let values: Vec<Value> = stored.iter().map(|d| d.to_value().unwrap()).collect();
        let head = json!({"totalResults": 6}).as_object().cloned().unwrap();
        let composed = object_with_documents(&head, "Resources", &stored).unwrap();
        let expected =
            JsonbDatum::through_text(json!({"totalResults": 6, "Resources": values})).unwrap();
        assert_eq!(bytes(&composed), bytes(&expected));
        let toasted = Spi::get_one::<bool>(
            "SELECT bool_or(pg_column_size(d) < octet_length(d::text) / 2) FROM docs",
        )
        .unwrap()
        .unwrap();
        assert!(
            toasted,
            "no stored document was compressed: the test lost its point"
        );
    }
}
