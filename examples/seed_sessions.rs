//! `seed_sessions`: real, openable bff sessions written straight into Redis,
//! for the benchmark (`bench/lib.mjs` `seedRealSessions`).
//!
//! Each session is sealed by bff's own code (`bff::fuzzing::Sealer`, which
//! runs `Vault::create` over a memory store), so the record is byte for
//! byte what a login stores. Its tokens are random strings shaped like the
//! e2e provider's (tests/e2e/lib/provider.mjs): opaque 43-character access
//! and refresh tokens and an RS256 ID token, so a record is about the size
//! of a real login's there; `--jwt-access-token` makes the access token an
//! RS256 JWT too (Keycloak-like, larger). Sessions live 8 h; access tokens
//! 1 h, so bff does not refresh them.
//!
//! stdout: RESP commands for `redis-cli --pipe`, the keys of `put_session`:
//! the record (`bff:s:{h}`), its metadata (`bff:m:{h}`) and the subject and
//! provider-session index entries, with the TTLs bff gives them.
//! `--cookies FILE`: one session cookie value per line.
//! stderr: a one-line summary (never a key, token or cookie).
//!
//! ```text
//! cargo run --profile dist --example seed_sessions -- \
//!   --keys "$BFF_SESSION_KEYS" --count 10000 --cookies cookies.txt \
//!   | redis-cli -h 127.0.0.1 -p 6379 --pipe
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bff::fuzzing::{Sealer, session_record_key};
use bff::{DisplayClaims, SessionData, SessionId, now_unix};
use clap::Parser;
use sha2::{Digest, Sha256};

/// Absolute session lifetime (bff's default `BFF_SESSION_TTL`).
const LIFETIME_SECS: i64 = 8 * 3600;
/// Access token lifetime: far beyond any refresh skew.
const ACCESS_SECS: i64 = 3600;
/// Bytes of an RS256 signature (2048-bit key).
const RS256_SIG_BYTES: usize = 256;

/// Seeds sealed bff sessions into Redis (via `redis-cli --pipe`).
#[derive(Parser)]
#[command(name = "seed_sessions")]
struct Args {
    /// The `BFF_SESSION_KEYS` value of the bff under test (the first
    /// non-decrypt-only key seals).
    #[arg(long, env = "BFF_SESSION_KEYS", hide_env_values = true)]
    keys: String,
    /// How many sessions.
    #[arg(long)]
    count: u64,
    /// Where to write the cookie values, one per line.
    #[arg(long)]
    cookies: PathBuf,
    /// The provider's issuer (scopes the index keys and the tokens' `iss`).
    #[arg(long, default_value = "https://idp.example.test")]
    issuer: String,
    /// JWT-shaped (RS256) access tokens, as Keycloak issues, instead of
    /// 43-character opaque ones, as the e2e provider does.
    #[arg(long)]
    jwt_access_token: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let started = Instant::now();
    match seed(&args) {
        Ok(record_bytes) => {
            eprintln!(
                "seed_sessions: {} sessions in {:.2} s, record {record_bytes} bytes",
                args.count,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("seed_sessions: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Seals `args.count` sessions; returns the size of the last record.
fn seed(args: &Args) -> Result<usize, String> {
    let sealer = Sealer::new(&args.keys)?;
    let io = |e: std::io::Error| e.to_string();
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let file =
        File::create(&args.cookies).map_err(|e| format!("{}: {e}", args.cookies.display()))?;
    let mut cookies = BufWriter::new(file);
    let mut record_bytes = 0;
    // Users are `user-<run>-<n>`: runs that add sessions add users.
    let run = random_b64(3);
    for n in 0..args.count {
        let data = session(&format!("user-{run}-{n:07}"), args, now_unix());
        let (id, record) = sealer.seal_session(&data)?;
        if n == 0 {
            check_opens(&sealer, &id, &record, &data)?;
        }
        // The memory store only lends the vault; keep it empty.
        sealer.end_session(&id)?;
        record_bytes = record.len();
        write_session(&mut out, &id, &record, &data, &args.issuer).map_err(io)?;
        writeln!(cookies, "{}", id.encode()).map_err(io)?;
    }
    out.flush().map_err(io)?;
    cookies.flush().map_err(io)?;
    Ok(record_bytes)
}

/// The first record must open through `Vault::load` as the same session.
fn check_opens(
    sealer: &Sealer,
    id: &SessionId,
    record: &[u8],
    data: &SessionData,
) -> Result<(), String> {
    let opened = sealer
        .load_session(id, record.to_vec())?
        .ok_or("a sealed session did not open")?;
    if opened.sub != data.sub || opened.access_token != data.access_token {
        return Err("a sealed session opened as another one".into());
    }
    Ok(())
}

/// A session of user `sub`, logged in at `now`.
fn session(sub: &str, args: &Args, now: i64) -> SessionData {
    let sub = sub.to_owned();
    let sid = random_b64(32);
    let nonce = random_b64(32);
    let access_expires_at = now + ACCESS_SECS;
    let access_token = if args.jwt_access_token {
        let claims = serde_json::json!({
            "jti": random_b64(32), "sub": sub, "iat": now, "exp": access_expires_at,
            "scope": "openid profile email offline_access", "client_id": "bff",
            "iss": args.issuer, "aud": "https://api.example.test",
        });
        jwt("at+jwt", &claims)
    } else {
        random_b64(32)
    };
    let id_claims = serde_json::json!({
        "sub": sub, "sid": sid, "nonce": nonce, "at_hash": random_b64(16), "aud": "bff",
        "exp": access_expires_at, "iat": now, "auth_time": now, "iss": args.issuer,
    });
    SessionData {
        access_token,
        access_expires_at,
        access_issued_at: now,
        refresh_token: Some(random_b64(32)),
        id_token: jwt("JWT", &id_claims),
        claims: DisplayClaims {
            name: Some(format!("User {sub}")),
            email: Some(format!("{sub}@example.test")),
            preferred_username: Some(sub.clone()),
        },
        sub,
        sid: Some(sid),
        created_at: now,
        absolute_expires_at: now + LIFETIME_SECS,
        last_seen: now,
        version: 1,
        nonce,
        logout_token: random_b64(32),
        dpop: None,
    }
}

/// A JWT-shaped token: real header and claims, random RS256-sized signature.
fn jwt(typ: &str, claims: &serde_json::Value) -> String {
    let header = serde_json::json!({ "alg": "RS256", "typ": typ, "kid": "bench-rs256" });
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        random_b64(RS256_SIG_BYTES)
    )
}

/// `bytes` random bytes, base64url.
fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(buf.as_mut_slice());
    URL_SAFE_NO_PAD.encode(buf)
}

/// The commands of bff's `put_session`: index entries, record, metadata.
fn write_session(
    out: &mut impl Write,
    id: &SessionId,
    record: &[u8],
    data: &SessionData,
    issuer: &str,
) -> std::io::Result<()> {
    let record_key = session_record_key(id);
    let hash = record_key
        .strip_prefix("bff:s:{")
        .and_then(|k| k.strip_suffix('}'))
        .unwrap_or_default();
    let ttl = ((data.absolute_expires_at - now_unix()).max(1) * 1000).to_string();
    let sub_index = index_key("bff:sub:", issuer, &data.sub);
    let sid_index = data
        .sid
        .as_deref()
        .map(|sid| index_key("bff:sid:", issuer, sid));
    for index in std::iter::once(&sub_index).chain(sid_index.as_ref()) {
        resp(out, &[b"SADD", index.as_bytes(), hash.as_bytes()])?;
        resp(out, &[b"PEXPIRE", index.as_bytes(), ttl.as_bytes()])?;
    }
    let meta = serde_json::json!({
        "sub_index": sub_index, "sid_index": sid_index, "created_at": data.created_at,
        "expires_at": data.absolute_expires_at, "last_seen": data.last_seen,
    });
    resp(
        out,
        &[b"SET", record_key.as_bytes(), record, b"PX", ttl.as_bytes()],
    )?;
    let meta_key = bff::store::keys::meta(hash);
    resp(
        out,
        &[
            b"SET",
            meta_key.as_bytes(),
            meta.to_string().as_bytes(),
            b"PX",
            ttl.as_bytes(),
        ],
    )
}

/// `bff:sub:{H(iss, value)}` / `bff:sid:{…}` (`session::keys`).
fn index_key(prefix: &str, issuer: &str, value: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(issuer.as_bytes());
    hasher.update([0]);
    hasher.update(value.as_bytes());
    let mut hash = URL_SAFE_NO_PAD.encode(hasher.finalize());
    hash.truncate(22);
    format!("{prefix}{{{hash}}}")
}

/// One RESP array of bulk strings.
fn resp(out: &mut impl Write, parts: &[&[u8]]) -> std::io::Result<()> {
    write!(out, "*{}\r\n", parts.len())?;
    for part in parts {
        write!(out, "${}\r\n", part.len())?;
        out.write_all(part)?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}
