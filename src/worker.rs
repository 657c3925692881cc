//! Thread-per-core serving: `BFF_WORKERS` threads, each running its own
//! single-threaded tokio runtime, each owning the connections it is handed
//! and its own Redis connection and upstream pools ([`PerWorker`]).
//!
//! Why: with one work-stealing runtime, a proxied request hops between
//! threads (the client connection, the Redis connection's driver task and
//! the upstream connection's task may each sit on another worker), and on
//! a busy 2-core machine those cross-thread wake-ups cost more than bff's
//! own work (bench/profile.mjs: ~23 % of samples in context switches).
//! Here a request runs start to finish on one thread; only the hand-off of
//! a new connection crosses threads (nginx's worker model).
//!
//! Lifetimes: a worker lives while its [`WorkerPool`] does; dropping the
//! pool (or [`WorkerPool::finish`]) lets each worker drain its connections
//! (bounded, see [`crate::server`]) and exit.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::app::AppState;
use crate::server::{Connections, Listener};

thread_local! {
    /// This thread's worker index; `None` off the worker threads.
    static INDEX: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The worker index of the calling thread (`None` off the worker threads:
/// the main runtime, the admin listener, tests).
pub fn current() -> Option<usize> {
    INDEX.with(Cell::get)
}

/// One `T` per worker thread, made lazily on first use from that thread
/// (so anything it spawns, such as a Redis connection's driver task, runs on
/// that worker's runtime), plus a shared one for every other thread.
pub struct PerWorker<T> {
    shared: T,
    slots: Box<[OnceLock<T>]>,
    make: Box<dyn Fn() -> Option<T> + Send + Sync>,
}

impl<T: Clone> PerWorker<T> {
    /// `workers` lazily made slots; `make` returning `None` falls back to
    /// a clone of `shared`.
    pub fn new(
        workers: usize,
        shared: T,
        make: impl Fn() -> Option<T> + Send + Sync + 'static,
    ) -> Self {
        Self {
            shared,
            slots: (0..workers).map(|_| OnceLock::new()).collect(),
            make: Box::new(make),
        }
    }

    /// The calling worker's value, or the shared one.
    pub fn get(&self) -> &T {
        match current().and_then(|index| self.slots.get(index)) {
            Some(slot) => slot.get_or_init(|| (self.make)().unwrap_or_else(|| self.shared.clone())),
            None => &self.shared,
        }
    }
}

impl<T> std::fmt::Debug for PerWorker<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerWorker")
            .field("workers", &self.slots.len())
            .finish_non_exhaustive()
    }
}

type Accepted = (std::net::TcpStream, SocketAddr);

/// The worker threads of one listener, fed round-robin.
pub struct WorkerPool {
    senders: Vec<mpsc::UnboundedSender<Accepted>>,
    exited: Vec<oneshot::Receiver<()>>,
    next: usize,
}

impl WorkerPool {
    /// Starts `workers` threads serving `kind` connections.
    pub fn start(workers: usize, state: &Arc<AppState>, kind: Listener) -> std::io::Result<Self> {
        let mut pool = Self {
            senders: Vec::new(),
            exited: Vec::new(),
            next: 0,
        };
        for index in 0..workers.max(1) {
            let (sender, receiver) = mpsc::unbounded_channel();
            let (exit_tx, exit_rx) = oneshot::channel();
            let state = Arc::clone(state);
            // Built here so a failure stops start-up instead of a worker.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            std::thread::Builder::new()
                .name(format!("bff-worker-{index}"))
                .spawn(move || {
                    INDEX.with(|cell| cell.set(Some(index)));
                    run_worker(&runtime, receiver, state, kind);
                    // Tasks still running (e.g. a detached refresh) end with the runtime.
                    drop(runtime);
                    let _nobody_waits = exit_tx.send(());
                })?;
            pool.senders.push(sender);
            pool.exited.push(exit_rx);
        }
        Ok(pool)
    }

    /// Hands an accepted connection to the next worker.
    pub fn dispatch(&mut self, stream: tokio::net::TcpStream, peer: SocketAddr) {
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(err) => return tracing::debug!(error = %err, "could not hand over a connection"),
        };
        let index = self.next % self.senders.len();
        self.next = self.next.wrapping_add(1);
        if self.senders[index].send((stream, peer)).is_err() {
            tracing::warn!(worker = index, "a worker has stopped; connection dropped");
        }
    }

    /// Stops handing out connections and waits until every worker has
    /// drained its connections and exited.
    pub async fn finish(self) {
        drop(self.senders);
        for exited in self.exited {
            let _exited = exited.await;
        }
    }
}

/// A worker's life on its current-thread runtime: serve what it is handed
/// until the pool goes away, then drain.
fn run_worker(
    runtime: &tokio::runtime::Runtime,
    mut accepted: mpsc::UnboundedReceiver<Accepted>,
    state: Arc<AppState>,
    kind: Listener,
) {
    runtime.block_on(async move {
        let _ticker = tokio::spawn(keep_timer_near());
        let connections = Connections::new(state, kind);
        while let Some((stream, peer)) = accepted.recv().await {
            match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => connections.serve(stream, peer),
                Err(err) => tracing::debug!(error = %err, "could not adopt a connection"),
            }
        }
        connections.drain().await;
    });
}

/// Keeps a timer due within 250 ms armed on this worker. tokio wakes its
/// own driver (an eventfd write) whenever a timer is armed earlier than
/// the driver's next planned wake; without this, the 2 s Redis response
/// timeout armed by nearly every request was the earliest, costing a
/// syscall per request (strace: ~0.9 eventfd writes per request).
async fn keep_timer_near() {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
    }
}

/// Workers when `BFF_WORKERS` is unset. bff scales out by replicas (all
/// state is in Redis), so a pod is typically one CPU; and where bff
/// shares a machine with its neighbours (bench/run.sh: wrk, Redis and the
/// upstream on 2 cores), one worker gave the same throughput as two with a
/// tighter tail (p99 1.8 ms vs 2.7 ms) and less CPU. nginx's built-in
/// default is likewise one worker. `BFF_WORKERS=auto` uses every CPU.
pub const DEFAULT_WORKERS: usize = 1;

/// One per CPU the process may use (Rust's `available_parallelism`
/// honours cgroup CPU quotas, so a Kubernetes CPU limit counts).
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn each_worker_makes_its_own_value_once_and_other_threads_share_one() {
        let made = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&made);
        let values = Arc::new(PerWorker::new(2, 0_usize, move || {
            Some(counter.fetch_add(1, Ordering::SeqCst) + 1)
        }));
        let on_worker = |index: usize| {
            let values = Arc::clone(&values);
            std::thread::spawn(move || {
                INDEX.with(|cell| cell.set(Some(index)));
                (*values.get(), *values.get())
            })
            .join()
            .unwrap()
        };
        assert_eq!(*values.get(), 0, "off the workers: the shared value");
        assert_eq!(on_worker(0), (1, 1));
        assert_eq!(on_worker(1), (2, 2));
        assert_eq!(on_worker(0), (1, 1), "a worker's value is made once");
        assert_eq!(on_worker(7), (0, 0), "an index beyond the slots shares");
        assert_eq!(made.load(Ordering::SeqCst), 2);
    }
}
