//! Sealed envelopes and session records: `crypto::Keyring::open` and
//! `Vault::load` (8-byte version prefix, then the envelope, AAD = store
//! key + version).
//!
//! Input: a mode byte (mod 5), then
//! - 0: an envelope, opened for the fixed session ID and its store key;
//! - 1: `secret_len | secret | aad_len | aad | envelope`;
//! - 2: `plain_len | plaintext | ops…`: seal, then tamper with the
//!   envelope, secret or AAD (4-byte ops: kind, index (2), value);
//! - 3: a session record for the fixed session ID, loaded through the vault;
//! - 4: `sub_len | sub | version | ops…`: store a real session, tamper with
//!   its record (or load it under another ID), load it again.
//!
//! Invariants: opening never panics and gives exactly what the reference
//! reader of [`bff_fuzz::sealed::expected`] gives (so random bytes never
//! open, and the error is the right one); a tampered envelope, secret or
//! AAD never opens, an untouched one always does, to the same plaintext;
//! the vault returns a session only for a record that genuinely opens,
//! and after tampering with a stored record (or under another ID) never.
#![no_main]

use std::sync::LazyLock;

use bff::fuzzing::{Sealer, session_record_key};
use bff::{DisplayClaims, SessionData, SessionId, now_unix};
use bff_fuzz::sealed::{SESSION_ID, as_result, expected, session_id_bytes, spec};
use bff_fuzz::sealed::Expected;
use libfuzzer_sys::fuzz_target;

static SEALER: LazyLock<Sealer> = LazyLock::new(|| Sealer::new(&spec()).expect("fixed keyring"));

/// Takes `len | bytes` off the front of `data`.
fn take<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (&len, rest) = data.split_first()?;
    let len = usize::from(len).min(rest.len());
    let (taken, rest) = rest.split_at(len);
    *data = rest;
    Some(taken)
}

enum Op {
    Xor(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Secret(usize, u8),
    Aad(usize, u8),
}

fn ops(data: &[u8]) -> Vec<Op> {
    data.chunks_exact(4)
        .take(8)
        .map(|op| {
            let at = usize::from(u16::from_be_bytes([op[1], op[2]]));
            match op[0] % 5 {
                0 => Op::Xor(at, op[3]),
                1 => Op::Truncate(at),
                2 => Op::Insert(at, op[3]),
                3 => Op::Secret(at, op[3]),
                _ => Op::Aad(at, op[3]),
            }
        })
        .collect()
}

fn edit(bytes: &mut Vec<u8>, op: &Op) {
    match *op {
        Op::Xor(at, v) | Op::Secret(at, v) | Op::Aad(at, v) if !bytes.is_empty() => {
            let at = at % bytes.len();
            bytes[at] ^= v;
        }
        Op::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
        Op::Insert(at, v) => bytes.insert(at % (bytes.len() + 1), v),
        _ => {}
    }
}

fn session(sub: &[u8], version: u64) -> SessionData {
    let now = now_unix();
    SessionData {
        access_token: "access".into(),
        access_expires_at: now + 300,
        access_issued_at: now,
        refresh_token: Some("refresh".into()),
        id_token: "id.token.sig".into(),
        sub: String::from_utf8_lossy(sub).into_owned(),
        sid: Some("sid-1".into()),
        claims: DisplayClaims::default(),
        created_at: now,
        absolute_expires_at: now + 3600,
        last_seen: now,
        version,
        nonce: "nonce".into(),
        logout_token: "logout".into(),
        dpop: None,
    }
}

fn check_open(secret: &[u8], aad: &[u8], envelope: &[u8]) {
    let got = SEALER.open(secret, aad, envelope);
    let want = as_result(expected(secret, aad, envelope));
    assert_eq!(got, want, "open({secret:?}, {aad:?}, {envelope:?})");
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let fixed_id = SessionId::parse(SESSION_ID).expect("fixed session ID");
    let fixed_key = session_record_key(&fixed_id);
    match mode % 5 {
        0 => check_open(&session_id_bytes(), fixed_key.as_bytes(), rest),
        1 => {
            let (Some(secret), Some(aad)) = (take(&mut rest), take(&mut rest)) else {
                return;
            };
            check_open(secret, aad, rest);
        }
        2 => {
            let Some(plain) = take(&mut rest) else {
                return;
            };
            let secret = session_id_bytes();
            let aad = fixed_key.as_bytes().to_vec();
            let sealed = SEALER.seal(&secret, &aad, plain).expect("seal");
            assert_eq!(expected(&secret, &aad, &sealed), Expected::Opens(plain.to_vec()));
            let (mut env, mut s, mut a) = (sealed.clone(), secret.clone(), aad.clone());
            for op in ops(rest) {
                match op {
                    Op::Secret(..) => edit(&mut s, &op),
                    Op::Aad(..) => edit(&mut a, &op),
                    _ => edit(&mut env, &op),
                }
            }
            let opened = SEALER.open(&s, &a, &env);
            if env == sealed && s == secret && a == aad {
                assert_eq!(opened.as_deref(), Ok(plain), "an untouched envelope did not open");
            } else {
                assert!(opened.is_err(), "a tampered envelope opened: {env:?}");
                check_open(&s, &a, &env);
            }
        }
        3 => {
            let loaded = SEALER.load_session(&fixed_id, rest.to_vec()).expect("memory store");
            let genuine = rest.split_at_checked(8).and_then(|(version, envelope)| {
                let mut aad = fixed_key.as_bytes().to_vec();
                aad.extend_from_slice(version);
                match expected(&session_id_bytes(), &aad, envelope) {
                    Expected::Opens(_) => Some(version.to_vec()),
                    _ => None,
                }
            });
            if let Some(data) = loaded {
                let version = genuine.expect("a session loaded from a record that does not open");
                assert_eq!(data.version.to_be_bytes().as_slice(), version.as_slice());
            }
        }
        _ => {
            let Some(sub) = take(&mut rest) else {
                return;
            };
            let Some((&version, rest)) = rest.split_first() else {
                return;
            };
            let data = session(sub, u64::from(version));
            let (id, record) = SEALER.seal_session(&data).expect("store a session");
            let mut tampered = record.clone();
            let mut other_id = false;
            for op in ops(rest) {
                match op {
                    Op::Secret(..) | Op::Aad(..) => other_id = true,
                    _ => edit(&mut tampered, &op),
                }
            }
            let load_as = if other_id { SessionId::generate().expect("OS randomness") } else { id.clone() };
            let loaded = SEALER.load_session(&load_as, tampered.clone()).expect("memory store");
            if tampered == record && !other_id {
                let loaded = loaded.expect("an untouched record did not load");
                assert_eq!(loaded.sub, data.sub);
                assert_eq!(loaded.version, data.version);
                assert_eq!(loaded.access_token, data.access_token);
            } else {
                assert!(loaded.is_none(), "a tampered record loaded (other id: {other_id})");
            }
            SEALER.end_session(&id).expect("end");
            SEALER.end_session(&load_as).expect("end");
        }
    }
});
