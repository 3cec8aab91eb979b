//! Located errors for `[[credential]]` tables.

use super::err;

const GH: &str = "[[credential]]\nid = \"gh\"\nheader = \"authorization\"\n\
                  source.env = \"GH_TOKEN\"\nbind.host = \"api.github.com\"\n";

#[test]
fn duplicate_credential_id_is_located_at_the_second() {
    let text = format!("{GH}\n{GH}");
    assert_eq!(
        err(&text),
        "palisade.toml:8:6: credential[1].id: duplicate id \"gh\" (first used by credential[0])"
    );
}

#[test]
fn incoherent_credentials_are_refused() {
    let cases = [
        (
            "[[credential]]\nid = \"\"\n",
            "palisade.toml:2:6: credential[0].id: empty id",
        ),
        (
            "[[credential]]\nid = \"gh\"\n",
            "palisade.toml:1:1: credential[0].source: needs one of env, file or command",
        ),
        (
            "[[credential]]\nid = \"gh\"\nsource = { env = \"A\", file = \"f\" }\n",
            "palisade.toml:3:10: credential[0].source: set only one of env, file or command",
        ),
        (
            "[[credential]]\nid = \"gh\"\nsource.command = []\n",
            "palisade.toml:3:18: credential[0].source.command: needs a program name first",
        ),
        (
            "[[credential]]\nid = \"gh\"\nsource.env = \"A\"\nbind.host = \"\"\n",
            "palisade.toml:4:13: credential[0].bind.host: empty host",
        ),
        (
            "[[credential]]\nid = \"gh\"\nsource.env = \"A\"\nbind.host = \"h.test\"\n",
            "palisade.toml:1:1: credential[0]: needs header or substitute = true",
        ),
        (
            "[[credential]]\nid = \"gh\"\nsource.env = \"A\"\nbind.host = \"h.test\"\n\
             header = \"authorization\"\nsubstitute = true\n",
            "palisade.toml:6:14: credential[0].substitute: header and substitute = true \
             exclude each other",
        ),
        (
            "[[credential]]\nid = \"gh\"\nsource.env = \"A\"\nbind.host = \"h.test\"\n\
             substitute = true\nformat = \"Bearer {}\"\n",
            "palisade.toml:6:10: credential[0].format: format needs header",
        ),
        (
            "[[credential]]\nid = \"gh\"\nsource.env = \"A\"\nbind.host = \"h.test\"\n\
             header = \"authorization\"\nformat = \"Bearer\"\n",
            "palisade.toml:6:10: credential[0].format: \"Bearer\": must hold {} exactly once, \
             where the secret goes",
        ),
        (
            "[[credential]]\nid = \"gh\"\nsource.env = \"A\"\nbind.host = \"h.test\"\n\
             substitute = true\n",
            "palisade.toml:1:1: credential[0]: substitute = true needs a placeholder table",
        ),
        (
            "[[credential]]\nid = \"gh\"\nsource.env = \"A\"\nbind.host = \"h.test\"\n\
             header = \"bad header\"\n",
            "palisade.toml:5:10: credential[0].header: \"bad header\": not an HTTP header name",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(err(text), expected, "for {text:?}");
    }
}

#[test]
fn two_credential_endpoints_on_one_port_are_refused() {
    let ep = "endpoint = { port = 8089, env = \"BASE_URL\" }\n";
    let second = GH.replace("id = \"gh\"", "id = \"gh2\"");
    let text = format!("{GH}{ep}\n{second}{ep}");
    assert_eq!(
        err(&text),
        "palisade.toml:13:21: credential[1].endpoint.port: port 8089 is already credential[0]'s \
         endpoint"
    );
}
