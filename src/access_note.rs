//! What the proxy tells the front door about a request for its access log
//! line, carried as a response extension: the session's 8-character log
//! id (a prefix of the session hash, never the cookie), whether a token
//! refresh happened, and how long the upstream took.

/// The proxy's part of one access log line.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccessNote {
    /// The session's log id ([`crate::session::SessionId::log_id`]).
    pub(crate) session: Option<String>,
    /// Whether this request refreshed (or waited for a refresh of) the
    /// session's tokens.
    pub(crate) refreshed: bool,
    /// Time to the upstream's response head, in microseconds.
    pub(crate) upstream_us: Option<u64>,
}

/// Whether access lines are written at all (`RUST_LOG` enables target
/// `bff::access` at `info`); when not, the note's session id, a hash of
/// the session ID, is not worth computing.
pub(crate) fn wanted() -> bool {
    tracing::enabled!(target: "bff::access", tracing::Level::INFO)
}
