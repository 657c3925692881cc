//! The access log line, one JSON object per request, serialised straight
//! into a per-thread buffer and appended to the batching log writer.
//!
//! Why not `tracing`'s JSON formatter: it collects every field into a map of
//! `serde_json::Value`s and walks the request's spans, about 12 % of a
//! proxied request's CPU in `bench/profile.mjs` at `RUST_LOG=info`. This
//! line has a fixed shape, so it is written field by field: the keys are
//! literals, the request's strings and numbers go through serde_json (which
//! escapes them), and the timestamp and the client address are digits
//! written by hand (the date and time formatted once a second).
//! Used with `BFF_LOG_FORMAT=json` in the running binary; the pretty format,
//! and processes that never installed the writer (tests with their own
//! subscriber), log the same fields through `tracing`. The level filter is
//! `tracing`'s either way (`RUST_LOG`, target `bff::access`).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::log_writer::LogWriter;

/// The JSON log writer, once `telemetry::init` installed it.
static WRITER: OnceLock<LogWriter> = OnceLock::new();

/// Makes [`write`] use `writer` (JSON log format only).
pub(super) fn install(writer: LogWriter) {
    let _first = WRITER.set(writer);
}

/// The fields of one access log line (the names the `tracing` fallback
/// uses too); an absent value is left out.
pub(crate) struct AccessLine<'a> {
    /// The request id.
    pub(crate) request_id: &'a str,
    /// The method.
    pub(crate) method: &'a str,
    /// The path, never the query.
    pub(crate) path: &'a str,
    /// The route label.
    pub(crate) route: &'a str,
    /// The response status.
    pub(crate) status: u16,
    /// The response body length, when known from the head.
    pub(crate) bytes: Option<u64>,
    /// The client address (through `BFF_TRUSTED_PROXIES`).
    pub(crate) client: IpAddr,
    /// Time to the response head, microseconds.
    pub(crate) latency_us: u64,
    /// Time the upstream took, microseconds.
    pub(crate) upstream_us: Option<u64>,
    /// The session's 8-character log id.
    pub(crate) session: Option<&'a str>,
    /// Whether this request refreshed the session's tokens.
    pub(crate) refreshed: bool,
}

/// A thread's line buffer and its last formatted second.
#[derive(Default)]
struct Scratch {
    line: Vec<u8>,
    second: u64,
    date_time: String,
}

/// Writes `line` as one JSON log line; `false` when no JSON writer is
/// installed (the caller logs through `tracing`).
pub(crate) fn write(line: &AccessLine<'_>) -> bool {
    thread_local! {
        static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    }
    let Some(writer) = WRITER.get() else {
        return false;
    };
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.line.clear();
        if encode(scratch, line).is_ok() {
            writer.append(&scratch.line);
        }
    });
    true
}

/// The line into `scratch.line`, in the shape `tracing`'s flattened JSON
/// events have (`timestamp`, `level`, `message`, the fields).
fn encode(scratch: &mut Scratch, line: &AccessLine<'_>) -> serde_json::Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    if scratch.second != now.as_secs() || scratch.date_time.is_empty() {
        scratch.second = now.as_secs();
        scratch.date_time = date_time(now.as_secs());
    }
    let mut object = Object(&mut scratch.line);
    object.plain(
        "timestamp",
        stamp(&scratch.date_time, now.subsec_micros()).as_str(),
    );
    object.plain("level", "INFO");
    object.plain("message", "request");
    object.value("request_id", line.request_id)?;
    object.value("method", line.method)?;
    object.value("path", line.path)?;
    object.value("route", line.route)?;
    object.value("status", line.status)?;
    if let Some(bytes) = line.bytes {
        object.value("bytes", bytes)?;
    }
    object.plain("client", address_text(line.client).as_str());
    object.value("latency_us", line.latency_us)?;
    if let Some(upstream_us) = line.upstream_us {
        object.value("upstream_us", upstream_us)?;
    }
    if let Some(session) = line.session {
        object.value("session", session)?;
    }
    object.value("refreshed", line.refreshed)?;
    object.0.extend_from_slice(b"}\n");
    Ok(())
}

/// A JSON object being written: the keys are this file's own literals and
/// go in as they are; values from the request are escaped by serde_json.
struct Object<'a>(&'a mut Vec<u8>);

impl Object<'_> {
    /// `{` or `,`, then `"key":`.
    fn key(&mut self, key: &'static str) {
        self.0.push(if self.0.is_empty() { b'{' } else { b',' });
        self.0.push(b'"');
        self.0.extend_from_slice(key.as_bytes());
        self.0.extend_from_slice(b"\":");
    }

    /// A member whose string needs no escaping (digits, `.`, `:`, `-`,
    /// letters: the timestamp, the address, the level).
    fn plain(&mut self, key: &'static str, text: &str) {
        debug_assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".:-".contains(&b))
        );
        self.key(key);
        self.0.push(b'"');
        self.0.extend_from_slice(text.as_bytes());
        self.0.push(b'"');
    }

    /// A member serialised by serde_json.
    fn value(&mut self, key: &'static str, value: impl Serialize) -> serde_json::Result<()> {
        self.key(key);
        serde_json::to_writer(&mut *self.0, &value)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, from the second's cached text.
fn stamp(date_time: &str, micros: u32) -> Digits<32> {
    let mut text = Digits::default();
    text.push_str(date_time);
    text.push_str(".");
    text.push_padded(micros, 6);
    text.push_str("Z");
    text
}

/// An IPv4 address as its four decimal octets (`core`'s `Display` goes
/// through the padding-aware formatter, a fifth of this line's cost); an
/// IPv6 address through `Display`.
fn address_text(address: IpAddr) -> Digits<48> {
    let mut text = Digits::default();
    let IpAddr::V4(v4) = address else {
        let _fits = write!(text, "{address}");
        return text;
    };
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push_str(".");
        }
        let width = match octet {
            0..=9 => 1,
            10..=99 => 2,
            _ => 3,
        };
        text.push_padded(u32::from(octet), width);
    }
    text
}

/// A short ASCII text built on the stack.
struct Digits<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Default for Digits<N> {
    fn default() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> Digits<N> {
    /// Appends `text` (cut off at the capacity).
    fn push_str(&mut self, text: &str) {
        for &byte in text.as_bytes() {
            if let Some(slot) = self.bytes.get_mut(self.len) {
                *slot = byte;
                self.len += 1;
            }
        }
    }

    /// Appends the last `width` decimal digits of `value`, zero-padded.
    fn push_padded(&mut self, mut value: u32, width: usize) {
        let start = self.len;
        self.len = (start + width).min(N);
        for slot in self.bytes[start..self.len].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl<const N: usize> std::fmt::Write for Digits<N> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.push_str(text);
        Ok(())
    }
}

/// `YYYY-MM-DDTHH:MM:SS` in UTC for a Unix time in seconds.
fn date_time(secs: u64) -> String {
    let at = i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    at.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]"
    ))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(path: &'a str, session: Option<&'a str>) -> AccessLine<'a> {
        AccessLine {
            request_id: "r-1",
            method: "GET",
            path,
            route: "/api/",
            status: 200,
            bytes: None,
            client: IpAddr::from([127, 0, 0, 1]),
            latency_us: 512,
            upstream_us: Some(300),
            session,
            refreshed: false,
        }
    }

    #[test]
    fn a_line_is_one_json_object_with_the_promised_fields() {
        let mut scratch = Scratch::default();
        encode(&mut scratch, &line("/api/\"q\"\\\u{1}", Some("abcd1234"))).unwrap();
        let text = String::from_utf8(scratch.line.clone()).unwrap();
        assert!(text.ends_with("}\n") && text.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["path"], "/api/\"q\"\\\u{1}");
        assert_eq!(v["message"], "request");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["session"], "abcd1234");
        assert_eq!(v["client"], "127.0.0.1");
        assert_eq!(
            (v["status"].as_u64(), v["upstream_us"].as_u64()),
            (Some(200), Some(300))
        );
        assert!(v.get("bytes").is_none() && v["refreshed"] == false);
        let stamp = v["timestamp"].as_str().unwrap();
        assert_eq!(stamp.len(), "2026-12-03T20:17:05.123456Z".len(), "{stamp}");
        assert!(stamp.starts_with("20") && stamp.ends_with('Z'), "{stamp}");
    }

    #[test]
    fn addresses_read_as_display_writes_them() {
        for octet in 0..=255_u8 {
            for ip in [
                [octet, 0, 9, 255],
                [10, octet, 100, 1],
                [255, 99, octet, octet],
            ] {
                let ip = IpAddr::from(ip);
                assert_eq!(address_text(ip).as_str(), ip.to_string());
            }
        }
        for v6 in ["2001:db8::1", "::ffff:192.0.2.128", "fe80:1:2:3:4:5:6:7"] {
            let ip: IpAddr = v6.parse().unwrap();
            assert_eq!(address_text(ip).as_str(), ip.to_string());
        }
    }

    #[test]
    fn micros_are_six_digits() {
        let at = "2026-12-03T20:17:05";
        assert_eq!(stamp(at, 0).as_str(), "2026-12-03T20:17:05.000000Z");
        assert_eq!(stamp(at, 7_050).as_str(), "2026-12-03T20:17:05.007050Z");
        assert_eq!(stamp(at, 999_999).as_str(), "2026-12-03T20:17:05.999999Z");
    }

    #[test]
    fn the_date_and_time_are_utc_rfc_3339() {
        assert_eq!(date_time(0), "1970-01-01T00:00:00");
        assert_eq!(date_time(1_796_329_025), "2026-12-03T20:17:05");
    }
}
