//! Back-channel logout tokens past the signature: the claims and header
//! come from the input and are signed with the provider's own keys, so
//! `oidc::logout_token::validate` runs its claim checks on them.
//!
//! Input: one selector byte (which key and algorithm sign), then the
//! header JSON, a newline, and the payload JSON. Without a newline the
//! rest is the payload and the header is `{"alg":…,"kid":…,"typ":"logout+jwt"}`.
//! Selector: 1 RSA `fuzz-rsa` (RS256), 2 RSA `fuzz-rsa` (PS256, which its
//! JWK does not allow), 3 an unpublished Ed25519 key, anything else the
//! published Ed25519 key `fuzz-ed` (EdDSA; fast, so most inputs use it).
//!
//! Invariants: validation never panics; an accepted token was signed by a
//! published key, under the `alg` its header names (and the key allows),
//! and satisfies every rule of [`bff_fuzz::logout::check_accepted`].
//! Two known findings are checked only with `BFF_FUZZ_STRICT=1` (see
//! `regressions/README.md`): an `exp` near `i64::MAX`
//! (arithmetic overflow) and `"nonce": null` (accepted).
#![no_main]

use bff_fuzz::logout::{ED, NOW, RSA, Signer, UNPUBLISHED, VERIFIER, b64, check_accepted};
use libfuzzer_sys::fuzz_target;
use openidconnect::core::CoreJwsSigningAlgorithm as Alg;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (signer, alg, alg_name, kid, published): (&Signer, Alg, &str, &str, bool) =
        match selector {
            1 => (&RSA, Alg::RsaSsaPkcs1V15Sha256, "RS256", "fuzz-rsa", true),
            2 => (&RSA, Alg::RsaSsaPssSha256, "PS256", "fuzz-rsa", true),
            3 => (&UNPUBLISHED, Alg::EdDsa, "EdDSA", "fuzz-ed", false),
            _ => (&ED, Alg::EdDsa, "EdDSA", "fuzz-ed", true),
        };
    let default_header =
        format!(r#"{{"alg":"{alg_name}","kid":"{kid}","typ":"logout+jwt"}}"#).into_bytes();
    let (header, payload) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (rest[..at].to_vec(), &rest[at + 1..]),
        None => (default_header, rest),
    };
    let input = format!("{}.{}", b64(&header), b64(payload));
    let signature = signer.sign(&alg, input.as_bytes());
    let token = format!("{input}.{}", b64(&signature));

    // Known finding (regressions/logout_token_signed/): `exp` within 60 s
    // of `i64::MAX` overflows `exp + LEEWAY_SECS` in `check_claims`.
    let exp = bff_fuzz::logout::json_lossy(payload).and_then(|p| p["exp"].as_i64());
    if exp.is_some_and(|exp| exp > i64::MAX - 60) && !bff_fuzz::strict() {
        return;
    }

    let Ok(claims) = VERIFIER.validate(&token, NOW) else {
        return;
    };
    assert!(published, "a token signed with an unpublished key was accepted: {token}");
    assert_ne!(alg_name, "PS256", "PS256 accepted with a key whose JWK says RS256");
    let header = bff_fuzz::logout::json(&header);
    assert_eq!(
        header["alg"].as_str(),
        Some(alg_name),
        "signed with {alg_name}, accepted as {:?}",
        header["alg"]
    );
    if let Some(named) = header["kid"].as_str() {
        assert_eq!(named, kid, "signed by {kid}, header names {named}");
    }
    check_accepted(&token, &claims, NOW);
});
