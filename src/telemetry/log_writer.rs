//! Where log lines go: one shared buffer that serving threads append each
//! formatted line to, and one log thread that writes it to stdout in
//! batches.
//!
//! A serving thread never calls `write(2)` and, under load, never wakes the
//! log thread either: only the first line into an empty buffer does, and
//! the log thread then gathers for [`GATHER`] before it writes, so a busy
//! process pays about one wake-up and one write per [`GATHER`], not one per
//! line (the cost `tracing-appender`'s channel has: it wakes its receiver
//! for every line). Lines are never dropped: past [`MAX_BUFFERED`] bytes a
//! writer waits for the log thread. Dropping the [`LogGuard`] writes what
//! is left before the process exits.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the log thread gathers lines after the first one of a batch.
const GATHER: Duration = Duration::from_millis(5);
/// Bytes buffered before writers wait for the log thread.
const MAX_BUFFERED: usize = 8 << 20;

/// The buffer and its signals.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// The buffer got its first line, or the guard was dropped.
    ready: Condvar,
    /// The log thread took a batch: waiting writers may go on.
    drained: Condvar,
}

#[derive(Default)]
struct State {
    lines: Vec<u8>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned buffer still holds whole lines.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Appends lines to the shared buffer (a `tracing_subscriber` writer).
#[derive(Clone)]
pub(crate) struct LogWriter {
    shared: Arc<Shared>,
}

/// Keeps the log thread running; dropping it writes the last lines.
pub(crate) struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the log thread writing to `out`.
pub(crate) fn spawn(out: impl Write + Send + 'static) -> std::io::Result<(LogWriter, LogGuard)> {
    let shared = Arc::new(Shared::default());
    let drain = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("bff-log-writer".into())
        .spawn(move || run(&drain, out))?;
    let writer = LogWriter {
        shared: Arc::clone(&shared),
    };
    let guard = LogGuard {
        shared,
        thread: Some(thread),
    };
    Ok((writer, guard))
}

/// The log thread: waits for a first line, gathers, writes, until closed
/// and empty.
fn run(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let mut state = shared.lock();
        while state.lines.is_empty() && !state.closed {
            state = shared
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.lines.is_empty() {
            return;
        }
        if !state.closed {
            drop(state);
            std::thread::sleep(GATHER);
            state = shared.lock();
        }
        std::mem::swap(&mut batch, &mut state.lines);
        drop(state);
        shared.drained.notify_all();
        // Nowhere to report a failed write to stdout: the batch is dropped.
        let _written = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
    }
}

impl LogWriter {
    /// Appends whole lines to the buffer (waiting while it is full).
    pub(crate) fn append(&self, line: &[u8]) {
        let mut state = self.shared.lock();
        while state.lines.len() >= MAX_BUFFERED && !state.closed {
            state = self
                .shared
                .drained
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let first = state.lines.is_empty();
        state.lines.extend_from_slice(line);
        drop(state);
        if first {
            self.shared.ready.notify_one();
        }
    }
}

impl Write for LogWriter {
    /// One formatted line (the fmt layer writes each event in one call).
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_one();
        if let Some(thread) = self.thread.take() {
            let _joined = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read after the guard is dropped.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_from_every_thread_is_written_whole_by_the_time_the_guard_drops() {
        let sink = Sink::default();
        let (writer, guard) = spawn(sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        writer
                            .write_all(format!("thread {t} line {i:05}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_000);
        for t in 0..4 {
            let own: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            let expected: Vec<String> = (0..5000)
                .map(|i| format!("thread {t} line {i:05}"))
                .collect();
            assert_eq!(own, expected, "thread {t}'s lines are whole and in order");
        }
    }

    #[test]
    fn a_single_line_is_written_without_waiting_for_more() {
        let sink = Sink::default();
        let (mut writer, _guard) = spawn(sink.clone()).unwrap();
        writer.write_all(b"one\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while sink.0.lock().unwrap().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "a lone line was never written"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&*sink.0.lock().unwrap(), b"one\n");
    }
}
