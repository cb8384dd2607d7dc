use super::*;

#[test]
fn smoke() {
    let f = parse(r#"userName Eq "x" AND emails[type eq "work"].value co "@x.com""#).unwrap();
    println!("{f:?}\n{f}");
    assert!(parse("a eq").is_err());
}
