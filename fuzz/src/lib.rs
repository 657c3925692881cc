//! Helpers shared by the fuzz targets: independent reference models
//! ("oracles") that the targets compare bff's parsers against.
//!
//! The oracles are written from the specifications and bff's documented
//! rules, not from bff's code, so a disagreement is worth a look.

use std::borrow::Cow;

/// `percent-decode`, lossy: what an upstream that decodes once sees.
pub fn decode_once(text: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy()
}

/// A path with every segment's parameters (`;x`) removed.
pub fn without_params(path: &str) -> String {
    path.split('/')
        .map(|s| s.split(';').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether `prefix` is a segment prefix of `path`: `/api` covers `/api`
/// and `/api/x` (not `/apix`); `/api/` covers `/api/x`.
pub fn segment_prefix(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Whether a path has a `.` or `..` segment, also with segment
/// parameters (`..;x`, which some servlet containers treat as `..`).
pub fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|s| {
        let bare = s.split(';').next().unwrap_or("");
        bare == "." || bare == ".."
    })
}

/// One `name=value` pair of a `Cookie` header, as RFC 6265 §5.4 / 6265bis
/// §5.7.4 read it: pieces split at `;`, surrounding whitespace dropped, a
/// piece without `=` or with an empty name ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crumb {
    /// The cookie name.
    pub name: String,
    /// The cookie value, surrounding whitespace removed.
    pub value: String,
}

/// Every cookie pair in one `Cookie` header value.
pub fn crumbs(header: &str) -> Vec<Crumb> {
    header
        .split(';')
        .filter_map(|piece| {
            let (name, value) = piece.split_once('=')?;
            let name = name.trim_matches([' ', '\t']);
            if name.is_empty() {
                return None;
            }
            Some(Crumb {
                name: name.to_owned(),
                value: value.trim_matches([' ', '\t']).to_owned(),
            })
        })
        .collect()
}

/// Whether the environment asks for known findings to fail too
/// (`BFF_FUZZ_STRICT=1`): used to replay `regressions/`.
pub fn strict() -> bool {
    static STRICT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("BFF_FUZZ_STRICT").is_some_and(|v| v == "1"))
}

/// The provider, keys and reference checks of the logout-token targets.
pub mod logout {
    use std::sync::LazyLock;

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use bff::fuzzing::{BACKCHANNEL_EVENT, LogoutClaims, LogoutVerifier, MAX_LOGOUT_TOKEN_BYTES};
    use openidconnect::core::{CoreEdDsaPrivateSigningKey, CoreJwsSigningAlgorithm};
    use openidconnect::{JsonWebKeyId, PrivateSigningKey as _};
    use serde_json::Value;

    /// The provider's issuer (in `keys/discovery.json`).
    pub const ISSUER: &str = "https://idp.example.test/realms/fuzz";
    /// bff's client ID.
    pub const CLIENT_ID: &str = "bff-fuzz";
    /// The fixed "now" of every validation, so seeds stay valid.
    pub const NOW: i64 = 1_750_000_000;
    /// Algorithms bff accepts (`oidc::id_token::ALLOWED_ALGS`, by name).
    pub const ALLOWED: &[&str] = &[
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
    ];

    /// The verifier over `keys/discovery.json` and `keys/jwks.json`.
    pub static VERIFIER: LazyLock<LogoutVerifier> = LazyLock::new(|| {
        LogoutVerifier::new(
            include_str!("../keys/discovery.json"),
            include_str!("../keys/jwks.json"),
            CLIENT_ID,
        )
        .expect("static provider")
    });

    /// A key that can sign a test token.
    pub enum Signer {
        /// An Ed25519 key (signs `EdDSA`).
        Ed(CoreEdDsaPrivateSigningKey),
        /// An RSA key (signs `RS256` and `PS256`), through ring: its
        /// assembly is not instrumented, so signing stays fast in a fuzz build.
        Rsa(ring::rsa::KeyPair),
    }

    /// The published Ed25519 key.
    pub static ED: LazyLock<Signer> = LazyLock::new(|| {
        Signer::Ed(
            CoreEdDsaPrivateSigningKey::from_ed25519_pem(
                include_str!("../keys/ed25519.pem"),
                Some(JsonWebKeyId::new("fuzz-ed".into())),
            )
            .expect("Ed25519 PEM"),
        )
    });
    /// An Ed25519 key the provider never published (an attacker's).
    pub static UNPUBLISHED: LazyLock<Signer> = LazyLock::new(|| {
        Signer::Ed(
            CoreEdDsaPrivateSigningKey::from_ed25519_pem(
                include_str!("../keys/ed25519-unpublished.pem"),
                Some(JsonWebKeyId::new("fuzz-ed".into())),
            )
            .expect("Ed25519 PEM"),
        )
    });
    /// The published RSA key (`fuzz-rsa`, PKCS#1 PEM).
    pub static RSA: LazyLock<Signer> = LazyLock::new(|| {
        let pem = include_str!("../keys/rsa-2048.pem");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("PEM body");
        Signer::Rsa(ring::rsa::KeyPair::from_der(&der).expect("RSA key"))
    });

    impl Signer {
        /// Signs `input` with `alg` (which must suit the key).
        pub fn sign(&self, alg: &CoreJwsSigningAlgorithm, input: &[u8]) -> Vec<u8> {
            match self {
                Self::Ed(key) => key.sign(alg, input).expect("the algorithm suits the key"),
                Self::Rsa(key) => {
                    let padding: &'static dyn ring::signature::RsaEncoding = match alg {
                        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256 => {
                            &ring::signature::RSA_PKCS1_SHA256
                        }
                        CoreJwsSigningAlgorithm::RsaSsaPssSha256 => &ring::signature::RSA_PSS_SHA256,
                        other => panic!("no RSA signing for {other:?}"),
                    };
                    let mut signature = vec![0; key.public().modulus_len()];
                    key.sign(padding, &ring::rand::SystemRandom::new(), input, &mut signature)
                        .expect("RSA signature");
                    signature
                }
            }
        }
    }

    /// base64url without padding.
    pub fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A header or payload as JSON. serde_json skips members bff does not
    /// read without checking their UTF-8, so bytes are read lossily here.
    pub fn json(bytes: &[u8]) -> Value {
        serde_json::from_str(&String::from_utf8_lossy(bytes)).expect("an accepted segment is JSON")
    }

    /// [`json`], or `None` when the bytes are not JSON.
    pub fn json_lossy(bytes: &[u8]) -> Option<Value> {
        serde_json::from_str(&String::from_utf8_lossy(bytes)).ok()
    }

    fn segment(text: &str) -> Value {
        json(&URL_SAFE_NO_PAD.decode(text).expect("an accepted segment is base64url"))
    }

    /// Everything an accepted logout token must satisfy (OIDC Back-Channel
    /// Logout 1.0 §2.4, §2.6), read independently from the token text.
    /// Panics with the rule that does not hold.
    pub fn check_accepted(token: &str, claims: &LogoutClaims, now: i64) {
        assert!(token.len() <= MAX_LOGOUT_TOKEN_BYTES, "oversized token accepted");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "not a compact JWS: {token}");
        let header = segment(parts[0]);
        let payload = segment(parts[1]);
        let alg = header["alg"].as_str().unwrap_or_default();
        assert!(ALLOWED.contains(&alg), "alg {:?} accepted", header["alg"]);
        match &header["typ"] {
            Value::Null => {}
            Value::String(typ) => assert!(
                ["logout+jwt", "application/logout+jwt", "jwt"]
                    .contains(&typ.to_ascii_lowercase().as_str()),
                "typ {typ:?} accepted"
            ),
            other => panic!("typ {other:?} accepted"),
        }
        assert_eq!(payload["iss"].as_str(), Some(ISSUER), "iss of {payload}");
        let aud_ok = match &payload["aud"] {
            Value::String(aud) => aud == CLIENT_ID,
            Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(CLIENT_ID)),
            _ => false,
        };
        assert!(aud_ok, "aud of {payload}");
        let iat = payload["iat"].as_i64().expect("iat is an integer");
        assert!(iat <= now + 60 && iat >= now - 600, "iat {iat} at {now}");
        let exp = payload["exp"].as_i64().expect("exp is an integer");
        assert!(exp >= now - 60, "exp {exp} at {now}");
        assert_eq!(claims.exp, exp);
        assert!(
            payload["events"][BACKCHANNEL_EVENT].is_object(),
            "events of {payload}"
        );
        // Known finding (regressions/logout_token_signed/): `"nonce": null`
        // passes, as bff reads the claim into an `Option`.
        assert!(
            payload.get("nonce").is_none() || (payload["nonce"].is_null() && !crate::strict()),
            "a logout token with a nonce claim was accepted: {payload}"
        );
        let sub = payload["sub"].as_str();
        let sid = payload["sid"].as_str();
        assert!(sub.is_some() || sid.is_some(), "neither sub nor sid: {payload}");
        assert_eq!(claims.sub.as_deref(), sub);
        assert_eq!(claims.sid.as_deref(), sid);
        assert_eq!(claims.jti.as_deref(), payload["jti"].as_str());
    }
}

/// The keyring and the reference envelope reader of the `sealed` target.
pub mod sealed {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use aes_gcm::{Aes256Gcm, Nonce};
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use hkdf::Hkdf;
    use sha2::Sha256;

    /// The two master keys (`id`, standard base64): `k1` encrypts.
    pub const KEYS: [(&str, &str); 2] = [
        ("k1", "jkyPXDJUYLCdDa3VMzP+v5oaafa3P/t5vas18xd0TnA="),
        ("k2", "yFQpQH8hXfB/q+DtQy1zo3Ytjw14VNZMIAcs+MpvM2E="),
    ];
    /// A fixed session ID (cookie form).
    pub const SESSION_ID: &str = "DokXAZpGGcanFM21FzVXHquPf42cB559y1Y289nWuzo";

    /// The keyring spec for `bff::fuzzing::Sealer::new`.
    pub fn spec() -> String {
        KEYS.iter().map(|(id, key)| format!("{id}:{key}")).collect::<Vec<_>>().join(",")
    }

    /// The raw bytes of [`SESSION_ID`].
    pub fn session_id_bytes() -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(SESSION_ID).expect("fixed session ID")
    }

    /// What opening an envelope must give, read from the format alone:
    /// `0x01 | id_len | id | nonce (12) | ciphertext+tag (≥ 16)`, record
    /// key `HKDF-SHA256(salt = secret, ikm = master[id], info = "bff record v1")`,
    /// AES-256-GCM with `aad`.
    #[derive(Debug, PartialEq, Eq)]
    pub enum Expected {
        /// Not an envelope.
        Malformed,
        /// A key id the keyring lacks.
        UnknownKey,
        /// The tag does not verify.
        Authentication,
        /// It opens, to this plaintext.
        Opens(Vec<u8>),
    }

    /// The reference reading of `envelope` for `secret` and `aad`.
    pub fn expected(secret: &[u8], aad: &[u8], envelope: &[u8]) -> Expected {
        let [version, id_len, rest @ ..] = envelope else {
            return Expected::Malformed;
        };
        let id_len = usize::from(*id_len);
        if *version != 1 || rest.len() < id_len + 12 + 16 {
            return Expected::Malformed;
        }
        let (id, rest) = rest.split_at(id_len);
        let (nonce, ciphertext) = rest.split_at(12);
        let Some((_, master)) = KEYS.iter().find(|(k, _)| k.as_bytes() == id) else {
            return Expected::UnknownKey;
        };
        let master = STANDARD.decode(master).expect("fixed key");
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(secret), &master)
            .expand(b"bff record v1", &mut okm)
            .expect("32 bytes of HKDF output");
        let cipher = Aes256Gcm::new_from_slice(&okm).expect("32-byte key");
        let nonce = Nonce::try_from(nonce).expect("12-byte nonce");
        match cipher.decrypt(&nonce, Payload { msg: ciphertext, aad }) {
            Ok(plain) => Expected::Opens(plain),
            Err(_) => Expected::Authentication,
        }
    }

    /// [`expected`] in the words of bff's error messages.
    pub fn as_result(expected: Expected) -> Result<Vec<u8>, String> {
        match expected {
            Expected::Malformed => Err("malformed envelope".into()),
            Expected::UnknownKey => Err("unknown key id".into()),
            Expected::Authentication => Err("authentication failed".into()),
            Expected::Opens(plain) => Ok(plain),
        }
    }
}
