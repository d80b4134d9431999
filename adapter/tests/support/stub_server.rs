//! A minimal HTTP/1.1 server on `127.0.0.1:0` that records requests and answers from a closure.
//!
//! Enough HTTP for reqwest: one request per connection (`Connection: close`), a body sized by
//! `Content-Length`. Used where a real backend cannot produce the answer a test needs
//! (malformed bodies, 4xx, per-shard answers), and to inspect exactly what the client sent.

#![allow(dead_code)] // Each test crate that includes this uses a different part of it.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The most bytes of request head the stub reads before giving up on a connection.
const HEAD_BYTES_MAX: usize = 64 * 1024;

/// One request as the stub received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The request target, e.g. `/api/action`.
    pub path: String,
    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    pub body: Value,
}

impl Recorded {
    /// The Convex function path of the call (`body.path`).
    pub fn function(&self) -> &str {
        self.body["path"].as_str().unwrap_or("")
    }

    /// The envelope (`body.args[0]`): `{authSecret, args?}`.
    pub fn envelope(&self) -> &Value {
        &self.body["args"][0]
    }

    /// The inner arguments (`body.args[0].args`).
    pub fn args(&self) -> &Value {
        &self.body["args"][0]["args"]
    }
}

/// What the stub answers: an HTTP status and a body.
pub type Answer = (u16, String);

type Responder = Arc<dyn Fn(&Recorded) -> Option<Answer> + Send + Sync>;

/// A running stub; stops accepting when dropped.
pub struct StubServer {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    accept_loop: tokio::task::JoinHandle<()>,
}

impl StubServer {
    /// Starts a stub answering every request with `respond(request)`; `None` means "never
    /// answer" (the connection stays open until the client gives up).
    pub async fn start(
        respond: impl Fn(&Recorded) -> Option<Answer> + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond: Responder = Arc::new(respond);
        let recorded = requests.clone();
        let accept_loop = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let respond = respond.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, respond, recorded).await;
                });
            }
        });
        Self {
            url,
            requests,
            accept_loop,
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for StubServer {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// A Convex success answer carrying `value`.
pub fn success(value: Value) -> Option<Answer> {
    Some((
        200,
        serde_json::json!({ "status": "success", "value": value }).to_string(),
    ))
}

async fn serve(
    mut stream: TcpStream,
    respond: Responder,
    recorded: Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > HEAD_BYTES_MAX {
            return Ok(());
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_string();
    let path = request_line.next().unwrap_or("").to_string();
    let content_length: usize = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < content_length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let request = Recorded {
        method,
        path,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    recorded.lock().unwrap().push(request.clone());
    let Some((status, body)) = respond(&request) else {
        // Never answer: hold the connection until the client hangs up.
        let _ = stream.read(&mut chunk).await;
        return Ok(());
    };
    let response = format!(
        "HTTP/1.1 {status} Stub\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
