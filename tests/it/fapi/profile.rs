//! Case P5 and the client-security settings: `BFF_SECURITY_PROFILE=fapi2`
//! against a provider lacking any part of it refuses to start with one
//! line naming what is missing; key files and profile conflicts are
//! configuration errors naming their setting; the client JWKS publishes
//! public keys only, the signing key first.

use bff::config::Config;
use serde_json::json;

use super::{ec_key_file, rsa_key_file, write_temp};
use crate::support::fake_idp::{Behaviour, FakeIdp, Fapi};
use crate::support::harness::{self, CLIENT_ID, CLIENT_SECRET};
use crate::support::http as test_http;

/// What `bff::start` says against a provider changed by `change`.
async fn start_error(change: impl FnOnce(&mut Behaviour), flags: &[&str]) -> String {
    let idp = FakeIdp::start(CLIENT_ID, CLIENT_SECRET).await;
    idp.set(change);
    let args = harness::args(idp.issuer(), "http://127.0.0.1:9", None, flags);
    match bff::start(Config::load(&args).unwrap()).await {
        Ok(_running) => "started".into(),
        Err(err) => err.to_string(),
    }
}

/// The flags of a FAPI 2.0 client with a fresh EC key.
fn fapi2_flags() -> Vec<String> {
    let (key, _) = ec_key_file();
    ["--security-profile", "fapi2", "--client-key-file"]
        .map(str::to_owned)
        .into_iter()
        .chain([key.to_string_lossy().into_owned()])
        .collect()
}

fn full() -> Fapi {
    Fapi::full(json!({ "keys": [] }))
}

#[tokio::test]
async fn p5_fapi2_refuses_to_start_against_a_provider_lacking_par_dpop_keys_or_algorithms() {
    let flags = fapi2_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let cases = [
        (
            Fapi {
                par: false,
                require_par: false,
                ..full()
            },
            "pushed_authorization_request_endpoint",
        ),
        (
            Fapi {
                dpop: false,
                ..full()
            },
            "dpop_signing_alg_values_supported",
        ),
        (
            Fapi {
                client_jwks: None,
                ..full()
            },
            "private_key_jwt",
        ),
        (
            Fapi {
                ps256: false,
                ..full()
            },
            "ES256 or PS256 in id_token_signing_alg_values_supported",
        ),
    ];
    for (fapi, missing) in cases {
        let err = start_error(|b| b.fapi = Some(fapi), &flags).await;
        let line = "the provider cannot satisfy BFF_SECURITY_PROFILE=fapi2: missing";
        assert!(err.starts_with(line) && !err.contains('\n'), "{err}");
        assert!(err.contains(missing), "{missing}: {err}");
    }
    // A plain provider lacks all of it, named in the one line.
    let err = start_error(|b| b.fapi = None, &flags).await;
    for missing in ["PAR", "private_key_jwt", "DPoP", "PS256"] {
        assert!(err.contains(missing), "{missing}: {err}");
    }
}

#[tokio::test]
async fn p5_the_iss_parameter_is_required_and_par_required_alone_needs_only_par() {
    let flags = fapi2_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let without_iss = |b: &mut Behaviour| {
        b.fapi = Some(full());
        b.iss_param_supported = false;
    };
    let err = start_error(without_iss, &flags).await;
    assert!(
        err.ends_with("missing authorization_response_iss_parameter_supported (RFC 9207)"),
        "{err}"
    );
    assert_eq!(
        start_error(|b| b.fapi = Some(full()), &flags).await,
        "started"
    );
    let err = start_error(|b| b.fapi = None, &["--par", "required"]).await;
    let line = "the provider cannot satisfy BFF_PAR=required: missing pushed_authorization_request_endpoint (PAR)";
    assert_eq!(err, line);
}

fn config_error(flags: &[&str]) -> String {
    let argv = harness::argv("http://127.0.0.1:1", "http://127.0.0.1:9", None, flags);
    use clap::Parser as _;
    let args = bff::config::Args::try_parse_from(argv).unwrap();
    Config::load(&args)
        .map(|_| "valid".to_owned())
        .unwrap_or_else(|e| e.to_string())
}

#[test]
fn client_key_mistakes_are_configuration_errors_naming_the_setting() {
    let (key, _) = ec_key_file();
    let key = key.to_string_lossy().into_owned();
    let junk = write_temp(
        "junk.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let junk = junk.to_string_lossy().into_owned();
    let err = config_error(&["--client-key-file", &junk]);
    assert!(
        err.contains("BFF_CLIENT_KEY_FILE") && err.contains("key 1"),
        "{err}"
    );
    assert!(!err.contains("AAAA"));
    // Secret and key file together: which one would the provider expect?
    let mut both = harness::argv("http://127.0.0.1:1", "http://127.0.0.1:9", None, &[]);
    both.extend(["--client-key-file".into(), key.clone()]);
    use clap::Parser as _;
    let err = Config::load(&bff::config::Args::try_parse_from(both).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("both set"), "{err}");
    // FAPI 2.0 §5.4.1: RSA keys of at least 2048 bits.
    let small = rsa::RsaPrivateKey::new(&mut rand08::rngs::OsRng, 1024).unwrap();
    let small = {
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        small
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string()
    };
    let small = write_temp("rsa1024.pem", &small)
        .to_string_lossy()
        .into_owned();
    let err = config_error(&["--client-key-file", &small]);
    assert!(err.contains("1024-bit RSA key"), "{err}");
    let err = config_error(&["--client-assertion-aud", "token", "--client-key-file", &key]);
    assert!(err.contains("BFF_CLIENT_ASSERTION_AUD"), "{err}");
}

#[test]
fn profile_mistakes_are_configuration_errors_naming_the_setting() {
    let (key, _) = ec_key_file();
    let key = key.to_string_lossy().into_owned();
    // fapi2 with a secret only.
    let err = config_error(&["--security-profile", "fapi2"]);
    assert!(
        err.contains("BFF_CLIENT_KEY_FILE") && err.contains("fapi2"),
        "{err}"
    );
    let err = config_error(&[
        "--security-profile",
        "fapi2",
        "--client-key-file",
        &key,
        "--par",
        "off",
    ]);
    assert!(err.contains("BFF_PAR"), "{err}");
    // FAPI 2.0 §5.3.2.1: the assertion's audience is the issuer.
    let err = config_error(&[
        "--security-profile",
        "fapi2",
        "--client-key-file",
        &key,
        "--client-assertion-aud",
        "endpoint",
    ]);
    assert!(err.contains("BFF_CLIENT_ASSERTION_AUD"), "{err}");
    let err = config_error(&["--security-profile", "fapi3"]);
    assert!(err.contains("BFF_SECURITY_PROFILE"), "{err}");
    // A session route cannot opt out of DPoP under fapi2.
    let toml = write_temp(
        "t.toml",
        "[[routes]]\nprefix = \"/api/\"\nupstream = \"http://127.0.0.1:9\"\ndpop = false\n",
    );
    let err = config_error(&[
        "--security-profile",
        "fapi2",
        "--client-key-file",
        &key,
        "--config",
        &toml.to_string_lossy(),
    ]);
    assert!(err.contains("dpop = false"), "{err}");
    assert_eq!(
        config_error(&["--security-profile", "fapi2", "--client-key-file", &key]),
        "valid"
    );
}

#[tokio::test]
async fn the_client_jwks_lists_every_key_public_only_signing_key_first() {
    let (ec, _) = ec_key_file();
    let keys = format!(
        "{},{}",
        ec.to_string_lossy(),
        rsa_key_file().to_string_lossy()
    );
    let idp = FakeIdp::start(CLIENT_ID, CLIENT_SECRET).await;
    let bff = harness::start_bff(&harness::args(
        idp.issuer(),
        "http://127.0.0.1:9",
        None,
        &["--client-key-file", &keys],
    ))
    .await;
    let res = test_http::get(&format!("http://{}/client-jwks.json", bff.admin_addr), &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/jwk-set+json"));
    let jwks = res.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        (keys[0]["kty"].as_str(), keys[0]["alg"].as_str()),
        (Some("EC"), Some("ES256"))
    );
    assert_eq!(
        (keys[1]["kty"].as_str(), keys[1]["alg"].as_str()),
        (Some("RSA"), Some("PS256"))
    );
    for key in keys {
        assert!(key["kid"].is_string() && key.get("d").is_none(), "{key}");
    }
    // A secret-authenticated bff has no client keys to publish.
    let plain = harness::start_bff(&harness::args(
        idp.issuer(),
        "http://127.0.0.1:9",
        None,
        &[],
    ))
    .await;
    let res = test_http::get(
        &format!("http://{}/client-jwks.json", plain.admin_addr),
        &[],
    )
    .await;
    assert_eq!(res.status, 404);
}
