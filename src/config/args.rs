//! Subcommands besides serving (`bff healthcheck`, `bff sessions …`). The
//! flags and `BFF_*` variables of [`Args`](super::Args) are generated from
//! the settings table (`settings.rs`).

use clap::Subcommand;

/// Subcommands besides serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Probe the admin listener's `/healthz` (for container HEALTHCHECKs).
    Healthcheck,
    /// Manage sessions through the admin API (needs `BFF_ADMIN_TOKEN`).
    Sessions {
        /// What to do.
        #[command(subcommand)]
        action: SessionsAction,
    },
}

/// `bff sessions …` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum SessionsAction {
    /// List a user's sessions (hash, created, expiry, last seen).
    List {
        /// The user's `sub`.
        #[arg(long)]
        sub: String,
    },
    /// Revoke one session by its hash, or all sessions of a user.
    Revoke {
        /// Session hash from `bff sessions list`.
        #[arg(long, conflicts_with = "sub", required_unless_present = "sub")]
        session: Option<String>,
        /// Revoke every session of this `sub`.
        #[arg(long)]
        sub: Option<String>,
    },
    /// Number of active sessions.
    Count,
}
