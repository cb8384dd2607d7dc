use super::*;
use crate::schema::{GROUP_TYPE, USER_TYPE};

#[test]
fn show() {
    for (rt, f) in [
        (&USER_TYPE, r#"userName eq "Bjensen""#),
        (&USER_TYPE, r#"externalId eq "x" and not (active eq true)"#),
        (&USER_TYPE, r#"emails[type eq "work"].value eq "x@y.com""#),
        (&USER_TYPE, r#"emails.value eq "x@y.com""#),
        (&USER_TYPE, r#"name.familyName co "O%_""#),
        (
            &USER_TYPE,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z" or id eq "nope" or meta.version eq "W/\"1\"""#,
        ),
        (
            &GROUP_TYPE,
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646" and display co "x"]"#,
        ),
        (
            &USER_TYPE,
            r#"groups.value eq "2819c223-7f76-453a-919d-413861904646" or emails pr"#,
        ),
    ] {
        let c = compile(rt, f, 2).unwrap();
        println!("{f}\n  {}\n  {:?}\n", c.sql, c.params);
    }
}
