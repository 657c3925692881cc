//! Per-worker values and the facts about worker threads that the rest of
//! bff needs without depending on the server: which worker the calling
//! thread is ([`current`]), one lazily made value per worker
//! ([`PerWorker`]: a Redis connection, an upstream pool), and how many
//! workers to run ([`default_workers`], [`cpu_count`]).
//!
//! A leaf: imports nothing of the crate, so config, the session store and
//! the route table can use it without reaching the server.

use std::cell::Cell;
use std::sync::OnceLock;

thread_local! {
    /// This thread's worker index; `None` off the worker threads.
    static INDEX: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The worker index of the calling thread (`None` off the worker threads:
/// the main runtime, the admin listener, tests).
pub(crate) fn current() -> Option<usize> {
    INDEX.with(Cell::get)
}

/// Marks the calling thread as worker `index` (called once by each
/// worker thread at start).
pub(crate) fn enter(index: usize) {
    INDEX.with(|cell| cell.set(Some(index)));
}

/// One `T` per worker thread, made lazily on first use from that thread
/// (so anything it spawns, such as a Redis connection's driver task, runs on
/// that worker's runtime), plus a shared one for every other thread.
pub(crate) struct PerWorker<T> {
    shared: T,
    slots: Box<[OnceLock<T>]>,
    make: Box<dyn Fn() -> Option<T> + Send + Sync>,
}

impl<T: Clone> PerWorker<T> {
    /// `workers` lazily made slots; `make` returning `None` falls back to
    /// a clone of `shared`.
    pub(crate) fn new(
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
    pub(crate) fn get(&self) -> &T {
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

/// Workers when `BFF_WORKERS` is unset: one per CPU the process may use
/// ([`cpu_count`], so a pod limited to one CPU runs one), as nginx's
/// `worker_processes auto` and Envoy's default concurrency. With the
/// session cache a request costs bff CPU only, and one thread capped
/// throughput on a 2-core machine: two workers served 9-18 % more in
/// `bench/run.sh` and `bench/compare.mjs` (2026-12-03).
pub(crate) fn default_workers() -> usize {
    cpu_count()
}

/// One per CPU the process may use (Rust's `available_parallelism`
/// honours cgroup CPU quotas, so a Kubernetes CPU limit counts).
pub(crate) fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
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
                enter(index);
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
