//! The access log line, one JSON object per request, serialised straight
//! into a per-thread buffer and appended to the batching log writer.
//!
//! Why not `tracing`'s JSON formatter: it collects every field into a map of
//! `serde_json::Value`s and walks the request's spans, about 12 % of a
//! proxied request's CPU in `bench/profile.mjs` at `RUST_LOG=info`. This
//! line has a fixed shape, so it is serialised by serde_json straight from
//! a struct (the timestamp's date and time formatted once a second).
//! Used with `BFF_LOG_FORMAT=json` in the running binary; the pretty format,
//! and processes that never installed the writer (tests with their own
//! subscriber), log the same fields through `tracing`. The level filter is
//! `tracing`'s either way (`RUST_LOG`, target `bff::access`).

use std::cell::RefCell;
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
#[derive(Serialize)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bytes: Option<u64>,
    /// The client address (through `BFF_TRUSTED_PROXIES`).
    pub(crate) client: IpAddr,
    /// Time to the response head, microseconds.
    pub(crate) latency_us: u64,
    /// Time the upstream took, microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) upstream_us: Option<u64>,
    /// The session's 8-character log id.
    #[serde(skip_serializing_if = "Option::is_none")]
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
    let wire = Wire {
        timestamp: Stamp {
            date_time: &scratch.date_time,
            micros: now.subsec_micros(),
        },
        level: "INFO",
        message: "request",
        line,
    };
    serde_json::to_writer(&mut scratch.line, &wire)?;
    scratch.line.push(b'\n');
    Ok(())
}

/// One line as serialised: the event's own fields, then the request's.
#[derive(Serialize)]
struct Wire<'a> {
    timestamp: Stamp<'a>,
    level: &'static str,
    message: &'static str,
    #[serde(flatten)]
    line: &'a AccessLine<'a>,
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, from the second's cached text.
struct Stamp<'a> {
    date_time: &'a str,
    micros: u32,
}

impl Serialize for Stamp<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}.{:06}Z", self.date_time, self.micros))
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
    fn the_date_and_time_are_utc_rfc_3339() {
        assert_eq!(date_time(0), "1970-01-01T00:00:00");
        assert_eq!(date_time(1_796_329_025), "2026-12-03T20:17:05");
    }
}
