//! A TCP relay between bff and Redis that a test controls: it forwards
//! every connection, remembers which ones turned `CLIENT TRACKING` on (the
//! session cache's invalidation listener), and can black-hole those: bytes
//! stop flowing both ways while the sockets stay open (a silent partition).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running relay; stops accepting when dropped.
pub struct Relay {
    addr: SocketAddr,
    silent: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Relays `127.0.0.1:<free port>` to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let silent = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&silent);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let flag = Arc::clone(&flag);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await {
                        relay(client, server, flag).await;
                    }
                });
            }
        });
        Self { addr, silent, task }
    }

    /// `redis://` URL of the relay.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.addr.port())
    }

    /// Black-holes the tracking connections (now and later ones).
    pub fn silence_listeners(&self) {
        self.silent.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, silent: Arc<AtomicBool>) {
    let tracking = Arc::new(AtomicBool::new(false));
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(
        client_read,
        server_write,
        Arc::clone(&tracking),
        Arc::clone(&silent),
        true,
    );
    let down = pump(server_read, client_write, tracking, silent, false);
    tokio::join!(up, down);
}

/// Copies one direction; marks the connection as a listener when it sends
/// `TRACKING`, and stalls it while listeners are silenced.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    tracking: Arc<AtomicBool>,
    silent: Arc<AtomicBool>,
    upstream: bool,
) {
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        let Ok(n) = from.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        if upstream
            && buf[..n]
                .windows(8)
                .any(|w| w.eq_ignore_ascii_case(b"TRACKING"))
        {
            tracking.store(true, Ordering::SeqCst);
        }
        while tracking.load(Ordering::SeqCst) && silent.load(Ordering::SeqCst) {
            // Black hole: keep the bytes, send nothing, never close.
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
