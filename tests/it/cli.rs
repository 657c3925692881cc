//! The binary's contract: `--check-config` redacts secrets, bad settings
//! exit 64 naming the setting, and the README's configuration table lists
//! exactly the settings the code accepts.

use std::process::Command;

use clap::CommandFactory as _;

const BIN: &str = env!("CARGO_BIN_EXE_bff");
const SECRET: &str = "super-secret-client-value";

fn bff(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .output()
        .expect("bff runs")
}

fn valid() -> Vec<&'static str> {
    vec![
        "--public-url",
        "https://app.example.test",
        "--issuer-url",
        "https://idp.example.test/realms/x",
        "--client-id",
        "bff",
        "--client-secret",
        SECRET,
        "--upstream",
        "http://127.0.0.1:9000",
        "--session-keys",
        "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "--redis-url",
        "redis://:redispass@127.0.0.1:6379/0",
    ]
}

#[test]
fn check_config_prints_effective_config_with_secrets_redacted() {
    let mut args = valid();
    args.push("--check-config");
    let out = bff(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("issuer_url = \"https://idp.example.test/realms/x\""),
        "{text}"
    );
    assert!(text.contains("session_ttl = \"28800s\""), "{text}");
    for secret in [SECRET, "redispass", "AAECAwQF"] {
        assert!(!text.contains(secret), "{secret} printed");
    }
}

#[test]
fn bad_config_exits_64_naming_the_setting() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["--public-url", "http://app.example.test"],
            "BFF_PUBLIC_URL",
        ),
        (&["--session-keys", "k1:c2hvcnQ="], "BFF_SESSION_KEYS"),
        (&["--session-ttl", "8 hours"], "BFF_SESSION_TTL"),
        (&["--issuer-url", "not a url"], "BFF_ISSUER_URL"),
        (&["--listen", "nowhere"], "BFF_LISTEN"),
    ];
    for (overrides, setting) in cases {
        let mut args = valid();
        let flag = overrides[0];
        if let Some(at) = args.iter().position(|a| *a == flag) {
            args.drain(at..at + 2);
        }
        args.extend_from_slice(overrides);
        args.push("--check-config");
        let out = bff(&args);
        assert_eq!(out.status.code(), Some(64), "{overrides:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(setting), "{err} does not name {setting}");
        assert!(!err.contains(SECRET));
    }
    let missing = bff(&["--check-config"]);
    assert_eq!(missing.status.code(), Some(64));
    let unknown_flag = bff(&["--no-such-flag"]);
    assert_eq!(unknown_flag.status.code(), Some(64));
}

#[test]
fn secrets_can_come_from_files() {
    let dir = std::env::temp_dir();
    let secret_file = dir.join(format!("bff-secret-{}", rand::random::<u64>()));
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let args = [
        "--public-url",
        "https://app.example.test",
        "--issuer-url",
        "https://idp.example.test",
        "--client-id",
        "bff",
        "--client-secret-file",
        secret_file.to_str().unwrap(),
        "--upstream",
        "http://127.0.0.1:9000",
        "--check-config",
    ];
    let out = bff(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("session_store = \"memory\"")
    );
}

#[test]
fn readme_configuration_table_matches_the_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let documented: std::collections::BTreeSet<String> = readme
        .lines()
        .filter(|l| l.starts_with("| `BFF_"))
        .filter_map(|l| l.split('`').nth(1).map(str::to_owned))
        .collect();
    let in_code: std::collections::BTreeSet<String> = bff::config::Args::command()
        .get_arguments()
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(documented, in_code, "README table and clap settings differ");
}
