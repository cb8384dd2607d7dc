//! In-process tests (`cargo pgrx test`): behaviour that needs a live
//! backend but is awkward to express in pg_regress.

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
                        (SELECT count(*) FROM scim.users u WHERE scim.scim_matches(scim._user_json(u), '{quoted}'))"
            ))
            .unwrap();
            assert_eq!(sql_n, mem_n, "{f}");
        }
    }
}
