//! Thread-per-core serving: `BFF_WORKERS` threads, each running its own
//! single-threaded tokio runtime, each owning the connections it is handed
//! and its own Redis connection and upstream pools
//! ([`crate::per_worker::PerWorker`]).
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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::per_worker;
use crate::server::{self, ConnectionLimit, Connections, Handler, Slot, Timeouts};

type Accepted = (std::net::TcpStream, SocketAddr, Option<Slot>);

/// The worker threads of one listener, fed round-robin.
pub(crate) struct WorkerPool {
    senders: Vec<mpsc::UnboundedSender<Accepted>>,
    exited: Vec<oneshot::Receiver<()>>,
    next: usize,
}

impl WorkerPool {
    /// Starts `workers` threads serving connections with `handler`;
    /// `timeouts` are the connections' idle timeout and drain grace.
    pub(crate) fn start(
        workers: usize,
        handler: &Handler,
        timeouts: Timeouts,
    ) -> std::io::Result<Self> {
        let mut pool = Self {
            senders: Vec::new(),
            exited: Vec::new(),
            next: 0,
        };
        for index in 0..workers.max(1) {
            let (sender, receiver) = mpsc::unbounded_channel();
            let (exit_tx, exit_rx) = oneshot::channel();
            let handler = Handler::clone(handler);
            // Built here so a failure stops start-up instead of a worker.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            std::thread::Builder::new()
                .name(format!("bff-worker-{index}"))
                .spawn(move || {
                    per_worker::enter(index);
                    run_worker(&runtime, receiver, handler, timeouts);
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
    pub(crate) fn dispatch(
        &mut self,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        slot: Option<Slot>,
    ) {
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(err) => return tracing::debug!(error = %err, "could not hand over a connection"),
        };
        let index = self.next % self.senders.len();
        self.next = self.next.wrapping_add(1);
        if self.senders[index].send((stream, peer, slot)).is_err() {
            tracing::warn!(worker = index, "a worker has stopped; connection dropped");
        }
    }

    /// Stops handing out connections and waits until every worker has
    /// drained its connections and exited.
    pub(crate) async fn finish(self) {
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
    handler: Handler,
    timeouts: Timeouts,
) {
    runtime.block_on(async move {
        let _ticker = tokio::spawn(keep_timer_near());
        let connections = Connections::new(handler, timeouts);
        while let Some((stream, peer, slot)) = accepted.recv().await {
            match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => connections.serve(stream, peer, slot),
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

/// Accepts on the current runtime and serves on `workers` until
/// `shutdown`, then waits for the workers to drain.
pub(crate) async fn serve_on_workers(
    listener: TcpListener,
    mut workers: WorkerPool,
    limit: Arc<ConnectionLimit>,
    shutdown: CancellationToken,
) {
    server::accept_until(listener, &shutdown, Some(&limit), |stream, peer, slot| {
        workers.dispatch(stream, peer, slot);
    })
    .await;
    workers.finish().await;
}
