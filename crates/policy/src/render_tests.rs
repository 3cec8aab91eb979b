use crate::*;

#[test]
fn show() {
    let p = load_str("[filesystem]\ndeny_read = [\"~/x\"]\n[network]\nallow=[\"a.test\",\"b.test\"]\n[[credential]]\nid=\"gh\"\nheader=\"authorization\"\nsource.env=\"GH\"\nbind.host=\"api.github.com\"\n", "t.toml").unwrap();
    println!("{}", p.to_toml_pretty().unwrap());
}
