//! Process-wide logging: `RUST_LOG` levels (default `info`), JSON or
//! pretty lines on stdout, written by a background thread through a
//! buffer so no serving thread ever blocks on `write(2)`. Lines are never
//! dropped (a full buffer makes the writer wait instead), and
//! [`Telemetry`] flushes what is buffered when it is dropped at exit.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::LogFormat;

/// Lines buffered before a writer waits for the log thread.
const BUFFERED_LINES: usize = 256 * 1024;

/// Keeps the log thread alive; dropping it flushes the buffered lines.
#[must_use = "dropping it stops and flushes the log writer"]
pub struct Telemetry {
    _log_writer: WorkerGuard,
}

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(format: LogFormat) -> Telemetry {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(BUFFERED_LINES)
        .thread_name("bff-log-writer")
        .finish(std::io::stdout());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_writer(writer);
    let lines = match format {
        LogFormat::Json => lines.json().flatten_event(true).boxed(),
        LogFormat::Pretty => lines.boxed(),
    };
    tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .init();
    Telemetry { _log_writer: guard }
}
