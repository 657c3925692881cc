//! The access log line, one JSON object per request, written without the
//! `tracing` formatter: serde_json straight into a per-thread buffer, then
//! appended to the batching log writer. The general formatter walks the
//! request's span and formats every field through `fmt::Debug`/visitors,
//! which cost more than the rest of a proxied request's logging; this line
//! has a fixed shape. It is used with `BFF_LOG_FORMAT=json` in the running
//! binary; the pretty format, and processes that never installed the log
//! writer (tests with their own subscriber), log it through `tracing`. The
//! level filter is `tracing`'s either way (`RUST_LOG`, target `bff::access`).

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::OnceLock;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::log_writer::LogWriter;

/// The JSON log writer, once `telemetry::init` installed it.
static WRITER: OnceLock<LogWriter> = OnceLock::new();

/// Makes [`write`] use `writer` (JSON log format only).
pub(super) fn install(writer: LogWriter) {
    let _first = WRITER.set(writer);
}

/// The fields of one access log line (the same names the `tracing`
/// fallback uses).
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

/// The line as written: the event's envelope, then its fields.
#[derive(Serialize)]
struct Envelope<'a> {
    timestamp: String,
    level: &'static str,
    message: &'static str,
    #[serde(flatten)]
    line: &'a AccessLine<'a>,
}

/// Writes `line` as one JSON log line; `false` when no JSON writer is
/// installed (the caller logs through `tracing`).
pub(crate) fn write(line: &AccessLine<'_>) -> bool {
    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    let Some(writer) = WRITER.get() else {
        return false;
    };
    let envelope = Envelope {
        timestamp: OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default(),
        level: "INFO",
        message: "request",
        line,
    };
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        if serde_json::to_writer(&mut *buffer, &envelope).is_ok() {
            buffer.push(b'\n');
            writer.append(buffer);
        }
    });
    true
}
