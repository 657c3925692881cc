//! Captures what bff logs in this test process: a global `tracing`
//! subscriber writing plain lines into memory, so a test can assert that
//! an event was logged (and what the line does not contain). Installed by
//! the first [`capture`]; lines from tests running at the same time land
//! here too, so assertions look for something only their test logs.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;

static BUFFER: OnceLock<Shared> = OnceLock::new();

/// The captured bytes.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

/// One write handle onto [`Shared`].
struct Writer(Shared);

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut lines = (self.0)
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lines.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Shared {
    type Writer = Writer;

    fn make_writer(&'a self) -> Self::Writer {
        Writer(self.clone())
    }
}

/// Starts capturing (once per process; later calls are no-ops).
pub fn capture() {
    BUFFER.get_or_init(|| {
        let shared = Shared::default();
        tracing_subscriber::fmt()
            .with_env_filter("warn,bff=info")
            .with_ansi(false)
            .with_writer(shared.clone())
            .try_init()
            .expect("no other global subscriber in the test binary");
        shared
    });
}

/// Every captured line containing all of `needles`.
pub fn lines_with(needles: &[&str]) -> Vec<String> {
    let Some(shared) = BUFFER.get() else {
        return Vec::new();
    };
    let bytes = shared
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|line| needles.iter().all(|n| line.contains(n)))
        .map(str::to_owned)
        .collect()
}
