//! A WebSocket echo upstream on `127.0.0.1:0` (tokio-tungstenite, real
//! RFC 6455 handshake): records the headers of every handshake it accepted
//! and echoes text and binary messages back.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// Headers of one accepted handshake: (lower-case name, value).
pub type Handshake = Vec<(String, String)>;

/// A running echo server; stops when dropped.
pub struct WsUpstream {
    addr: SocketAddr,
    handshakes: Arc<Mutex<Vec<Handshake>>>,
    task: JoinHandle<()>,
}

impl WsUpstream {
    /// Starts the echo server.
    pub async fn start() -> Self {
        let listener = super::http::bind().await;
        let addr = listener.local_addr().expect("ws upstream addr");
        let handshakes = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&handshakes);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(echo(stream, Arc::clone(&seen)));
            }
        });
        Self {
            addr,
            handshakes,
            task,
        }
    }

    /// `http://127.0.0.1:<port>` (bff's route upstream).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every accepted handshake so far.
    pub fn handshakes(&self) -> Vec<Handshake> {
        self.handshakes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for WsUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[expect(
    clippy::result_large_err,
    reason = "tungstenite's handshake callback returns its own large error response"
)]
async fn echo(stream: tokio::net::TcpStream, seen: Arc<Mutex<Vec<Handshake>>>) {
    let record = move |req: &Request, res: Response| {
        let headers = req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(headers);
        Ok(res)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, record).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            return;
        }
    }
}
