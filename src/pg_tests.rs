//! In-process tests (`cargo pgrx test`): behaviour that needs a live
//! backend but is awkward to express in pg_regress.

// Tests: a failed expectation is meant to panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use pgrx::prelude::*;
    use pgrx::JsonB;
    use serde_json::{json, Value};

    fn sql_json(q: &str) -> Value {
        Spi::get_one::<JsonB>(q).unwrap().unwrap().0
    }

    #[pg_test]
    fn create_get_roundtrip_keeps_canonical_form() {
        let created = sql_json(
            r#"SELECT scim.scim_create_user('{"USERNAME":"Alice","emails":[{"Value":"A@x.com","Primary":"true"}]}')"#,
        );
        assert_eq!(created["userName"], "Alice");
        assert_eq!(
            created["emails"],
            json!([{"value": "A@x.com", "primary": true}])
        );
        assert_eq!(created["meta"]["version"], "W/\"1\"");
        let id = created["id"].as_str().unwrap();
        let got = sql_json(&format!("SELECT scim.scim_get('User', '{id}')"));
        assert_eq!(got, created);
    }

    #[pg_test]
    #[should_panic(expected = "is already in use")]
    fn duplicate_user_name_in_other_case_is_a_uniqueness_error() {
        Spi::run(r#"SELECT scim.scim_create_user('{"userName":"bob"}')"#).unwrap();
        Spi::run(r#"SELECT scim.scim_create_user('{"userName":"BOB"}')"#).unwrap();
    }

    #[pg_test]
    fn every_write_bumps_the_version_once() {
        let u = sql_json(r#"SELECT scim.scim_create_user('{"userName":"v"}')"#);
        let id = u["id"].as_str().unwrap().to_string();
        let g = sql_json(&format!(
            r#"SELECT scim.scim_create_group('{{"displayName":"vg","members":[{{"value":"{id}"}}]}}')"#
        ));
        let gid = g["id"].as_str().unwrap();
        // One PATCH with three operations: one version step.
        let p = sql_json(&format!(
            r#"SELECT scim.scim_patch('Group', '{gid}', '{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
                {{"op":"replace","path":"displayName","value":"vg2"}},
                {{"op":"remove","path":"members[value eq \"{id}\"]"}},
                {{"op":"add","path":"members","value":[{{"value":"{id}"}}]}}]}}')"#
        ));
        assert_eq!(p["meta"]["version"], "W/\"2\"");
        assert_eq!(p["displayName"], "vg2");
        // A no-op PATCH (adding an existing member) changes nothing.
        let p = sql_json(&format!(
            r#"SELECT scim.scim_patch('Group', '{gid}', '{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
                {{"op":"add","path":"members","value":[{{"value":"{id}"}}]}}]}}')"#
        ));
        assert_eq!(p["meta"]["version"], "W/\"2\"");
    }

    #[pg_test]
    fn filter_sql_and_in_memory_evaluation_agree() {
        for (i, name) in ["Ann", "bob", "Carl", "dana"].iter().enumerate() {
            Spi::run(&format!(
                r#"SELECT scim.scim_create_user('{{"userName":"{name}","title":"t{i}","active":{}}}')"#,
                i % 2 == 0
            ))
            .unwrap();
        }
        for f in [
            r#"userName sw "a""#,
            r#"userName co "A" or title eq "t1""#,
            r#"not (active eq true) and title pr"#,
            r#"title gt "t1""#,
        ] {
            let quoted = f.replace('\'', "''");
            let (sql_n, mem_n) = Spi::get_two::<i64, i64>(&format!(
                "SELECT (SELECT count(*) FROM scim.scim_filter('{quoted}')),
                        (SELECT count(*) FROM scim.users u WHERE scim.scim_matches(scim.scim_get('User', u.id::text), '{quoted}'))"
            ))
            .unwrap();
            assert_eq!(sql_n, mem_n, "{f}");
        }
    }

    /// Differential property test: seeded random users and random filters;
    /// the SQL path (`scim_filter`) must return exactly the users for which
    /// the in-memory evaluator (`scim_matches`) is true.
    #[pg_test]
    fn random_filters_sql_equals_in_memory() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(7643);
        // Non-ASCII case variants too: folding (ß/SS, final sigma, İ/ı,
        // Cyrillic), NFC vs NFD (é / e + U+0301), emoji.
        let words = [
            "ab",
            "Ab",
            "abc",
            "b_c",
            "x%y",
            "ÄB",
            "äb",
            "zz",
            "a",
            "Straße",
            "STRASSE",
            "ΟΔΟΣ",
            "οδος",
            "İ",
            "ı",
            "I",
            "e\u{301}",
            "É",
            "ПРИВЕТ",
            "привет",
            "🎉",
            "ﬁ",
        ];
        let pick = |rng: &mut StdRng, xs: &[&'static str]| xs[rng.gen_range(0..xs.len())];
        for i in 0..200 {
            let mut u = json!({"userName": format!("{}{}", pick(&mut rng, &words), i)});
            if rng.gen_bool(0.6) {
                u["displayName"] = json!(pick(&mut rng, &words));
            }
            if rng.gen_bool(0.5) {
                u["title"] = json!(pick(&mut rng, &words));
            }
            if rng.gen_bool(0.7) {
                u["active"] = json!(rng.gen_bool(0.5));
            }
            if rng.gen_bool(0.5) {
                u["externalId"] = json!(format!("{}-{}", pick(&mut rng, &words), i % 7));
            }
            if rng.gen_bool(0.5) {
                u["name"] = json!({"givenName": pick(&mut rng, &words)});
            }
            if rng.gen_bool(0.4) {
                u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
                    json!({"department": pick(&mut rng, &words)});
            }
            let n = rng.gen_range(0..3);
            let emails: Vec<Value> = (0..n)
                .map(|k| json!({"value": format!("{}{}@X.com", pick(&mut rng, &words), k), "type": pick(&mut rng, &["work", "home"])}))
                .collect();
            if !emails.is_empty() {
                u["emails"] = Value::Array(emails);
            }
            let body = u.to_string().replace('\'', "''");
            Spi::run(&format!("SELECT scim.scim_create_user('{body}')")).unwrap();
        }

        let string_attrs = [
            "userName",
            "displayName",
            "title",
            "externalId",
            "emails.value",
            "emails.type",
            "name.givenName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ];
        let ops = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"];
        fn leaf(rng: &mut StdRng, attrs: &[&str], ops: &[&str], words: &[&str]) -> String {
            match rng.gen_range(0..10) {
                0 => format!("{} pr", attrs[rng.gen_range(0..attrs.len())]),
                1 => format!("active eq {}", rng.gen_bool(0.5)),
                2 => format!(
                    "emails[type eq \"work\" and value {} \"{}\"]",
                    ops[rng.gen_range(0..5)],
                    words[rng.gen_range(0..words.len())]
                ),
                _ => format!(
                    "{} {} \"{}\"",
                    attrs[rng.gen_range(0..attrs.len())],
                    ops[rng.gen_range(0..ops.len())],
                    words[rng.gen_range(0..words.len())]
                ),
            }
        }
        fn tree(
            rng: &mut StdRng,
            depth: u32,
            attrs: &[&str],
            ops: &[&str],
            words: &[&str],
        ) -> String {
            if depth == 0 || rng.gen_bool(0.4) {
                return leaf(rng, attrs, ops, words);
            }
            match rng.gen_range(0..3) {
                0 => format!("not ({})", tree(rng, depth - 1, attrs, ops, words)),
                1 => format!(
                    "({}) and ({})",
                    tree(rng, depth - 1, attrs, ops, words),
                    tree(rng, depth - 1, attrs, ops, words)
                ),
                _ => format!(
                    "{} or {}",
                    tree(rng, depth - 1, attrs, ops, words),
                    tree(rng, depth - 1, attrs, ops, words)
                ),
            }
        }
        let mut nonempty = 0;
        for _ in 0..300 {
            let f = tree(&mut rng, 3, &string_attrs, &ops, &words);
            let q = f.replace('\'', "''");
            let (sql_ids, mem_ids) = Spi::get_two::<Vec<String>, Vec<String>>(&format!(
                "SELECT (SELECT coalesce(array_agg(r->>'id' ORDER BY r->>'id'), '{{}}') FROM scim.scim_filter('{q}') r),
                        (SELECT coalesce(array_agg(u.id::text ORDER BY u.id::text), '{{}}') FROM scim.users u
                          WHERE scim.scim_matches(scim.scim_get('User', u.id::text), '{q}'))"
            ))
            .unwrap();
            assert_eq!(sql_ids, mem_ids, "filter {f}");
            if sql_ids.as_ref().is_some_and(|v| !v.is_empty()) {
                nonempty += 1;
            }
        }
        // The generator must exercise real matches, not only empty sets.
        assert!(nonempty > 100, "only {nonempty} filters matched anything");
    }

    /// The engine (`policy_allows` and `effective_policy`, both walking the
    /// kept tenant graph) against an independent oracle: a recursive CTE
    /// over the tables (memberships, nesting, bindings, documents, the
    /// default, `active`), after every one of 200 random changes to
    /// bindings, nesting, memberships, documents, the default policy and
    /// `active`, all in one transaction and one backend (so every change to
    /// nesting or bindings must invalidate the kept graph). Stale documents
    /// and defaults are also caught by tests/pg_regress/sql/08_policy_cache.sql.
    /// Is user `$u` allowed skill `$item`? Walked in SQL, independently of
    /// the engine: the groups reached (recursive CTE, UNION makes cycles
    /// harmless), their bindings' documents, or the tenant default when no
    /// binding is reached; allow = every document allows, deny = any denies.
    const ORACLE: &str = "
WITH RECURSIVE g(id) AS (
    SELECT m.group_id FROM scim.members m WHERE m.tenant_id = scim.current_tenant() AND m.member_id = '$u'
  UNION
    SELECT m.group_id FROM g JOIN scim.members m ON m.tenant_id = scim.current_tenant() AND m.member_id = g.id),
bound AS (
    SELECT DISTINCT b.policy FROM g
      JOIN scim.policy_bindings b ON b.tenant_id = scim.current_tenant() AND b.group_id = g.id),
docs AS (
    SELECT p.document FROM scim.policies p
     WHERE p.tenant_id = scim.current_tenant() AND p.name IN (SELECT policy FROM bound)
  UNION ALL
    SELECT p.document FROM scim.tenants t
      JOIN scim.policies p ON p.tenant_id = t.id AND p.name = t.default_policy
     WHERE t.id = scim.current_tenant() AND NOT EXISTS (SELECT FROM bound))
SELECT (SELECT coalesce(u.active, true) FROM scim.users u
         WHERE u.tenant_id = scim.current_tenant() AND u.id = '$u')
   AND count(*) > 0
   AND coalesce(bool_and(coalesce(d.document->'allow'->'skills' = '\"*\"', false)
                         OR coalesce(d.document->'allow'->'skills' ? '$item', false)), false)
   AND NOT coalesce(bool_or(coalesce(d.document->'deny'->'skills' = '\"*\"', false)
                            OR coalesce(d.document->'deny'->'skills' ? '$item', false)), false)
  FROM docs d";

    #[pg_test]
    fn random_policy_changes_engine_equals_sql_oracle() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(7644);
        let id = |q: &str| Spi::get_one::<String>(q).unwrap().unwrap();
        let users: Vec<String> = (0..5)
            .map(|i| {
                id(&format!(
                    r#"SELECT scim.scim_create_user('{{"userName":"pu{i}"}}')->>'id'"#
                ))
            })
            .collect();
        let groups: Vec<String> = (0..6)
            .map(|i| {
                id(&format!(
                    r#"SELECT scim.scim_create_group('{{"displayName":"pg{i}"}}')->>'id'"#
                ))
            })
            .collect();
        let items = ["git", "jira", "docker", "vim"];
        let docs = [
            r#"{"allow": {"skills": ["git", "jira"]}}"#,
            r#"{"allow": {"skills": "*"}, "deny": {"skills": ["docker"]}}"#,
            r#"{"allow": {"skills": ["git", "docker", "vim"]}}"#,
            r#"{"allow": {"skills": "*"}}"#,
            r#"{"allow": {"models": "*"}}"#,
            r#"{"allow": {"skills": ["vim"]}, "deny": {"skills": ["git"]}}"#,
        ];
        let pick = |rng: &mut StdRng, n: usize| rng.gen_range(0..n);
        for p in 0..4 {
            Spi::run(&format!(
                "SELECT scim.scim_policy_put('pp{p}', '{}')",
                docs[pick(&mut rng, docs.len())]
            ))
            .unwrap();
        }
        let mut allowed_seen = 0;
        for step in 0..200 {
            let g = &groups[pick(&mut rng, groups.len())];
            let g2 = &groups[pick(&mut rng, groups.len())];
            let u = &users[pick(&mut rng, users.len())];
            let p = pick(&mut rng, 4);
            let change = match pick(&mut rng, 9) {
                0 => format!("SELECT scim.scim_policy_bind('{g}', 'pp{p}')"),
                1 => format!("SELECT scim.scim_policy_unbind('{g}', 'pp{p}')"),
                2 if g != g2 => format!(
                    "INSERT INTO scim.members VALUES (scim.current_tenant(), '{g}', '{g2}', 'Group') ON CONFLICT DO NOTHING"
                ),
                3 => format!("DELETE FROM scim.members WHERE member_id = '{g2}' AND group_id = '{g}'"),
                4 => format!(
                    "INSERT INTO scim.members VALUES (scim.current_tenant(), '{g}', '{u}', 'User') ON CONFLICT DO NOTHING"
                ),
                5 => format!("DELETE FROM scim.members WHERE member_id = '{u}' AND group_id = '{g}'"),
                6 => format!(
                    "SELECT scim.scim_policy_put('pp{p}', '{}')",
                    docs[pick(&mut rng, docs.len())]
                ),
                7 if rng.gen_bool(0.3) => "SELECT scim.scim_policy_set_default(NULL)".to_string(),
                7 => format!("SELECT scim.scim_policy_set_default('pp{p}')"),
                _ => format!(
                    "UPDATE scim.users SET active = {} WHERE id = '{u}'",
                    rng.gen_bool(0.7)
                ),
            };
            Spi::run(&change).unwrap();
            for u in &users {
                let eff = sql_json(&format!("SELECT scim.effective_policy('{u}')"));
                for item in items {
                    let in_set = |v: &Value| {
                        v == "*" || v.as_array().is_some_and(|a| a.iter().any(|x| x == item))
                    };
                    let by_effective = eff["active"] == true
                        && in_set(&eff["allow"]["skills"])
                        && !in_set(&eff["deny"]["skills"]);
                    let oracle =
                        Spi::get_one::<bool>(&ORACLE.replace("$u", u).replace("$item", item))
                            .unwrap()
                            .unwrap_or(false);
                    let got = Spi::get_one::<bool>(&format!(
                        "SELECT scim.policy_allows('{u}', 'skills', '{item}')"
                    ))
                    .unwrap()
                    .unwrap();
                    assert_eq!(got, oracle, "step {step} after `{change}`: {u} {item}");
                    assert_eq!(
                        by_effective, oracle,
                        "step {step} after `{change}`: {u} {item}; {eff}"
                    );
                    allowed_seen += usize::from(got);
                }
            }
        }
        // The walk must reach real decisions both ways.
        assert!(allowed_seen > 300, "only {allowed_seen} allowed decisions");
    }
}
