//! Back-channel logout tokens as they arrive: `oidc::logout_token::validate`
//! of arbitrary text against a provider with a static JWKS.
//!
//! Input: the token (the `logout_token` form field, already decoded).
//!
//! Invariant: no panic, and an accepted token satisfies every rule of
//! [`bff_fuzz::logout::check_accepted`] (allowed `alg` and `typ`, exact
//! `iss`, our `aud`, `iat`/`exp` in range, the back-channel `events`
//! claim, no `nonce`, `sub` or `sid`, and the returned fields are the
//! token's). Without the provider's private key nothing should be
//! accepted at all, except the genuinely signed seeds.
#![no_main]

use bff_fuzz::logout::{NOW, VERIFIER, check_accepted};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(claims) = VERIFIER.validate(token, NOW) {
        check_accepted(token, &claims, NOW);
    }
});
