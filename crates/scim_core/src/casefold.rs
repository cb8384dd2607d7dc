//! The caseless matching key of caseExact=false strings, owned by the
//! extension so that it means the same in every database locale.
//!
//! `fold_case(s) = NFC(toCasefold(NFD(s)))`: Unicode *canonical caseless
//! matching* (Unicode §3.13, D145) with full default case folding
//! (CaseFolding.txt C+F: `ß`→`ss`, `ς`/`Σ`→`σ`, `İ`→`i̇`, `ﬁ`→`fi`),
//! put back into NFC so keys stay short and a precomposed `é` and `e` +
//! U+0301 give the same key. Two strings match caselessly iff their keys
//! are equal. No locale tailoring (Turkic `I`→`ı` is not applied: `I`
//! folds to `i` everywhere) and no compatibility mapping (fullwidth `Ａ`
//! stays distinct from `A`).
//!
//! The SQL function `scim.fold(text)` is this function; unique indexes,
//! the filter compiler, `email_values` and the in-memory evaluator all
//! use it. Changing its output (a new Unicode version in the pinned ICU4X
//! crates) changes index keys: bump [`FOLD_VERSION`] and run
//! `scim.scim_fold_rebuild()` (README "Case-insensitive matching").

use std::borrow::Cow;

use icu_casemap::CaseMapper;
use icu_normalizer::{ComposingNormalizer, DecomposingNormalizer};

/// Names the folding rule and its Unicode data; recorded on the indexes
/// built with it (`scim.scim_fold_version()`).
pub const FOLD_VERSION: &str = "nfc(casefold(nfd)) icu4x 2.4.0";

/// The caseless matching key of `s` (see the module docs).
pub fn fold_case(s: &str) -> Cow<'_, str> {
    // ASCII is its own NFC/NFD and folds to ASCII lowercase: the common
    // case (most userNames and emails) skips the Unicode tables.
    if s.is_ascii() {
        return if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        };
    }
    // The inner NFD of D145 only matters for U+0345 COMBINING GREEK
    // YPOGEGRAMMENI (it folds to ι, which changes canonical ordering) and
    // the precomposed Greek letters that contain it (U+1F80..U+1FFF); for
    // every other string, folding is compatible with canonical
    // equivalence and the outer NFC alone gives the same key (checked
    // against the full definition by the tests below). Skipping it saves
    // a decomposition and a recomposition of every accented letter.
    let folded = if s.chars().any(needs_nfd) {
        let nfd = DecomposingNormalizer::new_nfd().normalize(s);
        Cow::Owned(CaseMapper::new().fold_string(&nfd).into_owned())
    } else {
        CaseMapper::new().fold_string(s)
    };
    let nfc = ComposingNormalizer::new_nfc().normalize(&folded);
    Cow::Owned(nfc.into_owned())
}

fn needs_nfd(c: char) -> bool {
    c == '\u{345}' || ('\u{1F80}'..='\u{1FFF}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn definition(s: &str) -> String {
        let nfd = DecomposingNormalizer::new_nfd().normalize(s);
        ComposingNormalizer::new_nfc()
            .normalize(&CaseMapper::new().fold_string(&nfd))
            .into_owned()
    }

    /// Golden keys: a change here is a change of index keys (bump
    /// FOLD_VERSION, document, rebuild).
    #[test]
    fn golden_keys() {
        let cases = [
            ("Alice@Example.COM", "alice@example.com"),
            ("ÄRGER", "ärger"),
            ("Ärger", "ärger"),
            ("STRASSE", "strasse"),
            ("Straße", "strasse"),
            ("STRAẞE", "strasse"),
            ("ΟΔΟΣ", "οδοσ"),
            ("οδος", "οδοσ"),
            ("ALICE", "alice"),
            ("İstanbul", "i\u{307}stanbul"),
            ("ı", "ı"),
            ("ПРИВЕТ", "привет"),
            ("e\u{301}cole", "école"),
            ("E\u{301}COLE", "école"),
            ("ÉCOLE", "école"),
            ("ﬁle", "file"),
            ("Kelvin \u{212A}", "kelvin k"),
            ("µ", "μ"),
            ("ſ", "s"),
            ("Ａ", "ａ"),
            ("🎉Party", "🎉party"),
            ("Ꭰ", "Ꭰ"),
            ("ꭰ", "Ꭰ"),
            // ypogegrammeni: the case that needs the inner NFD
            ("ᾀ\u{300}", "ἂι"),
            ("α\u{345}\u{301}", "ά\u{3b9}"),
        ];
        for (input, key) in cases {
            assert_eq!(fold_case(input), key, "fold_case({input:?})");
        }
    }

    #[test]
    fn ascii_is_borrowed_when_already_folded() {
        assert!(matches!(fold_case("bjensen@example.com"), Cow::Borrowed(_)));
        assert!(matches!(fold_case("BJensen"), Cow::Owned(_)));
    }

    proptest! {
        #[test]
        fn idempotent(s in "\\PC{0,24}") {
            let once = fold_case(&s).into_owned();
            prop_assert_eq!(fold_case(&once), once.as_str());
        }

        #[test]
        fn canonically_equivalent_inputs_share_a_key(s in "\\PC{0,24}") {
            let nfd: String = DecomposingNormalizer::new_nfd().normalize(&s).into_owned();
            let nfc: String = ComposingNormalizer::new_nfc().normalize(&s).into_owned();
            prop_assert_eq!(fold_case(&nfd), fold_case(&nfc));
        }

        /// The shortcut equals the definition NFC(toCasefold(NFD(s))),
        /// on arbitrary text and on text dense in combining marks, Greek,
        /// ypogegrammeni and the letters with special foldings.
        #[test]
        fn equals_the_definition(
            s in prop_oneof![
                "\\PC{0,24}",
                "[\u{300}-\u{36F}\u{345}\u{370}-\u{3FF}\u{1F00}-\u{1FFF}A-Za-z\u{C0}-\u{17F}\u{130}\u{131}\u{1E9E}\u{FB00}-\u{FB06}\u{212A}\u{13A0}-\u{13F5}\u{AB70}-\u{ABBF}]{0,12}",
            ]
        ) {
            let want = definition(&s);
            prop_assert_eq!(fold_case(&s), want.as_str());
        }

        #[test]
        fn ascii_fast_path_agrees_with_the_tables(s in "[ -~]{0,24}") {
            let nfd = DecomposingNormalizer::new_nfd().normalize(&s);
            let full = ComposingNormalizer::new_nfc()
                .normalize(&CaseMapper::new().fold_string(&nfd))
                .into_owned();
            prop_assert_eq!(fold_case(&s), full.as_str());
        }
    }
}
