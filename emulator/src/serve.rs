//! Accepting and serving connections: timeouts, a connection cap, graceful shutdown.
//!
//! `axum::serve` sets none of hyper's timeouts and has no cap, so a few thousand silent
//! sockets could hold every file descriptor and a half-sent request could keep shutdown
//! waiting forever. This loop serves HTTP/1.1 with hyper's connection builder itself:
//!
//! * **Header read**: hyper closes a connection whose request headers are not complete
//!   [`Timeouts::header_read`] after it became ready for a request.
//! * **Body read**: [`DeadlineBody`] fails a body that is not complete
//!   [`Timeouts::body_read`] after its headers; the handler answers 400 and the connection
//!   closes.
//! * **Idle**: a connection with no byte moving and no request being answered for
//!   [`Timeouts::idle`] is dropped (silent sockets, idle keep-alive, clients that stop reading
//!   their answer).
//! * **Cap**: beyond [`connection_cap`] open connections, a new one is answered 503 at once
//!   and closed; the open ones are untouched.
//! * **Shutdown**: once `shutdown` resolves, the listener closes, idle connections close, and
//!   so do connections that never sent a byte, and requests in flight (or half received) get
//!   [`Timeouts::shutdown_grace`] to finish; what remains is dropped.
//!   A mutation already handed to the store's writer still commits whole (or not at all),
//!   acknowledged or not.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::Router;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use crate::limits::{
    ACCEPT_ERROR_PAUSE_MS, BODY_READ_TIMEOUT_MS, CONNECTIONS_MAX, FILE_DESCRIPTORS_RESERVED,
    HEADER_READ_TIMEOUT_MS, IDLE_CONNECTION_TIMEOUT_MS, MEMORY_TRIM_AFTER_CONNECTIONS,
    SHUTDOWN_GRACE_MS,
};

/// The serving timeouts; [`Default`] takes them from [`crate::limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// See [`HEADER_READ_TIMEOUT_MS`].
    pub header_read: Duration,
    /// See [`BODY_READ_TIMEOUT_MS`].
    pub body_read: Duration,
    /// See [`IDLE_CONNECTION_TIMEOUT_MS`].
    pub idle: Duration,
    /// See [`SHUTDOWN_GRACE_MS`].
    pub shutdown_grace: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_millis(HEADER_READ_TIMEOUT_MS),
            body_read: Duration::from_millis(BODY_READ_TIMEOUT_MS),
            idle: Duration::from_millis(IDLE_CONNECTION_TIMEOUT_MS),
            shutdown_grace: Duration::from_millis(SHUTDOWN_GRACE_MS),
        }
    }
}

impl Timeouts {
    /// Every timeout set to `each`: only for tests, which cannot wait seconds per case.
    pub fn all(each: Duration) -> Self {
        Self {
            header_read: each,
            body_read: each,
            idle: each,
            shutdown_grace: each,
        }
    }
}

/// What a refused connection is told before it is closed.
const REFUSED_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
connection: close\r\n\
content-length: 86\r\n\r\n\
{\"code\":\"TooManyConnections\",\"message\":\"Too many open connections; try again shortly\"}";

/// Serves `router` on `listener` until `shutdown` resolves, then drains as described above.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let cap = connection_cap();
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut accepted_since_trim = 0;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {
                if connections.is_empty() && accepted_since_trim >= MEMORY_TRIM_AFTER_CONNECTIONS {
                    accepted_since_trim = 0;
                    give_back_freed_memory();
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) if connections.len() >= cap => refuse(stream),
                Ok((stream, _)) => {
                    accepted_since_trim += 1;
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(
                        stream,
                        router.clone(),
                        timeouts,
                        stopped.clone(),
                    ));
                }
                // Out of descriptors, or a connection reset before it was accepted: pause
                // so closing connections can free descriptors, then go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_PAUSE_MS)).await,
            },
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(timeouts.shutdown_grace, drained).await;
    connections.shutdown().await;
}

/// Once the last connection has closed after many were served, returns the allocator's free
/// pages to the OS: after thousands of connections (each with its own buffers) glibc keeps tens
/// of MiB it no longer uses, so an idle emulator would not shrink back to its starting size.
/// Runs only when idle, on a blocking thread.
fn give_back_freed_memory() {
    tokio::task::spawn_blocking(crate::memory::give_back_freed_heap);
}

/// How many connections may be open at once: [`CONNECTIONS_MAX`], or fewer if the process's
/// file-descriptor limit (raised to its hard limit first) leaves less room.
pub fn connection_cap() -> usize {
    let descriptors = raise_descriptor_limit();
    CONNECTIONS_MAX.min(descriptors.saturating_sub(FILE_DESCRIPTORS_RESERVED).max(1))
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, as most servers do, and returns the
/// soft limit now in force.
#[cfg(unix)]
fn raise_descriptor_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return CONNECTIONS_MAX + FILE_DESCRIPTORS_RESERVED;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
}

/// Elsewhere (Windows) sockets are handles with no per-process limit to raise or to stay
/// under, so only [`CONNECTIONS_MAX`] caps connections.
#[cfg(not(unix))]
fn raise_descriptor_limit() -> usize {
    CONNECTIONS_MAX + FILE_DESCRIPTORS_RESERVED
}

/// Answers 503 without waiting for the request and closes. A fresh socket's send buffer is
/// empty, so the non-blocking write takes it whole.
fn refuse(stream: TcpStream) {
    let _ = stream.try_write(REFUSED_RESPONSE);
}

/// One connection, until it ends, idles out, or shutdown's grace is over (the task is dropped).
async fn serve_connection(
    stream: TcpStream,
    router: Router,
    timeouts: Timeouts,
    mut stopped: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let requests = activity.clone();
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = InFlight::enter(&requests);
        let request = request.map(|body| DeadlineBody::new(body, timeouts.body_read));
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await;
            drop(in_flight);
            Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stopped.changed(), if !stopping => {
                // A connection that never sent a byte (a browser's preconnect) has nothing to
                // finish; hyper would wait for its first request.
                if !activity.ever_read.load(Ordering::Relaxed) {
                    return;
                }
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep_until(activity.next_idle_check(timeouts.idle)) => {
                if activity.is_idle(timeouts.idle) {
                    return;
                }
            }
        }
    }
}

/// When a connection last moved a byte, and how many of its requests are being answered.
struct Activity {
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
    ever_read: AtomicBool,
}

/// The instant activity times count from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Activity {
    fn new() -> Self {
        let activity = Self {
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            ever_read: AtomicBool::new(false),
        };
        activity.touch();
        activity
    }

    fn touch(&self) {
        let now = Instant::now()
            .saturating_duration_since(epoch())
            .as_millis();
        self.last_ms
            .store(u64::try_from(now).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn idle_deadline(&self, idle: Duration) -> Instant {
        epoch() + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + idle
    }

    /// When to look again whether the connection has idled out. While a request is being
    /// answered the connection cannot idle out, and the answer's end moves `last_ms` anyway,
    /// so the next look is a whole idle period away: waiting for a deadline already in the
    /// past (a call longer than `idle`, such as a big import) would wake the loop at once,
    /// over and over, and spin a worker for as long as the call runs.
    fn next_idle_check(&self, idle: Duration) -> Instant {
        let deadline = self.idle_deadline(idle);
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            deadline.max(Instant::now() + idle)
        } else {
            deadline
        }
    }

    fn is_idle(&self, idle: Duration) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0 && Instant::now() >= self.idle_deadline(idle)
    }
}

/// Counts a request as being answered until dropped (also when its task is dropped).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn enter(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that records when bytes last moved through it.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl Tracked {
    fn moved<T>(&self, poll: &Poll<std::io::Result<T>>) {
        if matches!(poll, Poll::Ready(Ok(_))) {
            self.activity.touch();
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.ever_read.store(true, Ordering::Relaxed);
        }
        self.moved(&poll);
        poll
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.moved(&poll);
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.moved(&poll);
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that fails once it has not been fully received by its deadline.
struct DeadlineBody {
    inner: Incoming,
    limit: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

/// Why [`DeadlineBody`] failed.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within {0} ms")]
struct BodyTimedOut(u128);

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Some(Err(BodyTimedOut(this.limit.as_millis()).into())))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_well_formed_response() {
        let text = std::str::from_utf8(REFUSED_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["code"], "TooManyConnections");
    }

    #[test]
    fn the_cap_leaves_room_for_the_store() {
        let cap = connection_cap();
        assert!((1..=CONNECTIONS_MAX).contains(&cap));
    }

    #[test]
    fn a_request_longer_than_the_idle_timeout_does_not_wake_the_loop_at_once() {
        let idle = Duration::from_millis(1);
        let activity = Arc::new(Activity::new());
        let in_flight = InFlight::enter(&activity);
        std::thread::sleep(Duration::from_millis(5));
        // The idle deadline has passed while the request runs: the next look is in the future.
        assert!(activity.idle_deadline(idle) < Instant::now());
        assert!(activity.next_idle_check(idle) > Instant::now());
        assert!(!activity.is_idle(idle));
        drop(in_flight);
        // Answered: the connection idles out one idle period after the answer.
        std::thread::sleep(Duration::from_millis(5));
        assert!(activity.is_idle(idle));
        assert!(activity.next_idle_check(idle) <= Instant::now());
    }
}
