//! The gateway's HTTP/1.1 server: hyper's connection, bounded as GATEWAY.md "Limits" says.
//!
//! - At most `max_connections` connections are served at once: each holds a semaphore
//!   permit from before its accept until its socket closes, so the next ones wait in the
//!   listen queue and the process never runs out of descriptors.
//! - A connection must send a whole request head within `header_timeout` of its accept, and,
//!   once it has answered, may stay silent for `idle_timeout`; when the next head's first
//!   byte arrives that head has `header_timeout` too. Past either, the socket is closed.
//!   (hyper's own header timeout starts when a keep-alive connection goes idle, so it
//!   cannot tell idle from slow; this watchdog can.)
//! - A request not answered within `request_timeout` (its body has not arrived) is `408`
//!   (tower-http's `TimeoutLayer`), and an answer the client does not take within
//!   `request_timeout + idle_timeout` closes the connection (a slow reader).
//! - Every request must name exactly one host (`SingleHostLayer`), else `400`.
//! - Handlers see `ConnectInfo<SocketAddr>` as under `axum::serve`.
//! - On shutdown: stop accepting, let each connection finish the request it is in, close
//!   idle ones, and wait for them at most `header_timeout + request_timeout`.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{Request, Response, StatusCode};
use http_body::Frame;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::{Service, ServiceExt};
use tower_authn::host::SingleHostLayer;
use tower_http::timeout::TimeoutLayer;

use super::config::ServerLimits;

/// `router` with the request-level bounds: one host per request (`400`), and `408` for a
/// request not answered within the request timeout.
pub(crate) fn bounded(router: Router, limits: &ServerLimits) -> Router {
    router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(SingleHostLayer::new())
}

/// Serves `router` (through [`bounded`]) on `listener` until `shutdown` completes, then
/// shuts down gracefully.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut make = bounded(router, &limits).into_make_service_with_connect_info::<SocketAddr>();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(());
    let builder = http1::Builder::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let Ok(service) = make.call(peer).await;
        tokio::spawn(connection(
            builder.clone(),
            stream,
            permit,
            service,
            limits,
            stopping.clone(),
        ));
    }
    // Refuse new connections, ask the open ones to finish, wait until every permit is back.
    drop(listener);
    drop(stopping);
    let _ = stop.send(());
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let grace = limits.header_timeout + limits.request_timeout;
    let _ = tokio::time::timeout(grace, permits.acquire_many(all)).await;
}

/// A failed accept: a connection reset before we took it is nothing; anything else (out
/// of descriptors) is logged and retried after a pause rather than spun on.
async fn accept_failed(e: &io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::warn!("accept failed: {e}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One connection: hyper serves it while the watchdog closes it at its deadline.
async fn connection<S>(
    builder: http1::Builder,
    stream: TcpStream,
    permit: OwnedSemaphorePermit,
    service: S,
    limits: ServerLimits,
    mut stopping: watch::Receiver<()>,
) where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let activity = Arc::new(Activity::new(Instant::now()));
    let io = TokioIo::new(WatchedIo {
        inner: stream,
        activity: Arc::clone(&activity),
        _permit: permit,
    });
    let service = Tracked {
        inner: service,
        activity: Arc::clone(&activity),
    };
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let mut stop_asked = false;
    loop {
        let deadline = activity.deadline(&limits);
        let expiry = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            () = activity.changed.notified() => {}
            () = expiry => {
                if activity.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!("connection closed by its timeout");
                    return;
                }
            }
            _ = stopping.changed(), if !stop_asked => {
                stop_asked = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Where a connection is between its requests, shared by its socket, its service and its
/// watchdog.
#[derive(Debug)]
struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

/// A connection's phase; each has its deadline ([`Phase::deadline`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request head since `since` (the accept, or the end of the last answer);
    /// `head_started` when a byte of it has arrived.
    Waiting {
        since: Instant,
        answered: bool,
        head_started: Option<Instant>,
    },
    /// `requests` in the service or being answered, the first since `since`.
    Busy { since: Instant, requests: usize },
}

impl Phase {
    /// When a connection in this phase is closed.
    fn deadline(self, limits: &ServerLimits) -> Option<Instant> {
        match self {
            Self::Waiting {
                head_started: Some(start),
                ..
            } => Some(start + limits.header_timeout),
            Self::Waiting {
                since,
                answered: false,
                head_started: None,
            } => Some(since + limits.header_timeout),
            Self::Waiting {
                since,
                answered: true,
                head_started: None,
            } => Some(since + limits.idle_timeout),
            Self::Busy { since, .. } => Some(since + limits.request_timeout + limits.idle_timeout),
        }
    }
}

impl Activity {
    fn new(now: Instant) -> Self {
        Self {
            phase: Mutex::new(Phase::Waiting {
                since: now,
                answered: false,
                head_started: None,
            }),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn deadline(&self, limits: &ServerLimits) -> Option<Instant> {
        self.phase().deadline(limits)
    }

    /// Bytes arrived: while waiting, the next head has begun.
    fn bytes_read(&self, now: Instant) {
        let mut phase = self.phase();
        if let Phase::Waiting {
            head_started: started @ None,
            ..
        } = &mut *phase
        {
            *started = Some(now);
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// A whole head arrived and its request enters the service.
    fn begin(self: &Arc<Self>, now: Instant) -> BusyGuard {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Waiting { .. } => Phase::Busy {
                since: now,
                requests: 1,
            },
            Phase::Busy { since, requests } => Phase::Busy {
                since,
                requests: requests + 1,
            },
        };
        drop(phase);
        self.changed.notify_one();
        BusyGuard(Arc::clone(self))
    }

    /// A request's answer is out (or abandoned).
    fn end(&self, now: Instant) {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy { since, requests } if requests > 1 => Phase::Busy {
                since,
                requests: requests - 1,
            },
            _ => Phase::Waiting {
                since: now,
                answered: true,
                head_started: None,
            },
        };
        drop(phase);
        self.changed.notify_one();
    }
}

/// Held by a request from its head to the last byte of its answer.
#[derive(Debug)]
struct BusyGuard(Arc<Activity>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.end(Instant::now());
    }
}

/// The connection's socket: reports arriving bytes, and holds the connection's permit for
/// as long as the socket lives (an upgraded connection included).
#[derive(Debug)]
struct WatchedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read(Instant::now());
        }
        polled
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The per-connection service as hyper calls it: marks the connection busy from each
/// request's head to the end of its answer.
#[derive(Clone, Debug)]
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> hyper::service::Service<Request<Incoming>> for Tracked<S>
where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let guard = self.activity.begin(Instant::now());
        let inner = self.inner.clone();
        Box::pin(async move {
            let res = inner.oneshot(req).await?;
            Ok(res.map(|body| TrackedBody {
                inner: body,
                _guard: guard,
            }))
        })
    }
}

/// An answer's body that keeps its request's [`BusyGuard`] until hyper drops it (after the
/// last frame, or when the connection goes).
#[pin_project::pin_project]
#[derive(Debug)]
struct TrackedBody {
    #[pin]
    inner: Body,
    _guard: BusyGuard,
}

impl http_body::Body for TrackedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ServerLimits {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_connections: 1,
        }
    }

    #[test]
    fn a_new_connection_has_the_header_timeout() {
        let t0 = Instant::now();
        let a = Activity::new(t0);
        assert_eq!(a.deadline(&limits()), Some(t0 + Duration::from_secs(10)));
        // Its first byte does not extend it.
        a.bytes_read(t0 + Duration::from_secs(3));
        assert_eq!(a.deadline(&limits()), Some(t0 + Duration::from_secs(13)));
        a.bytes_read(t0 + Duration::from_secs(9));
        assert_eq!(a.deadline(&limits()), Some(t0 + Duration::from_secs(13)));
    }

    #[test]
    fn after_an_answer_idle_then_header_timeout() {
        let t0 = Instant::now();
        let a = Arc::new(Activity::new(t0));
        let guard = a.begin(t0 + Duration::from_secs(1));
        // In the service: bounded by request + idle timeout (a slow reader).
        assert_eq!(a.deadline(&limits()), Some(t0 + Duration::from_secs(91)));
        // Body bytes while busy do not start a head.
        a.bytes_read(t0 + Duration::from_secs(2));
        drop(guard);
        let Some(idle) = a.deadline(&limits()) else {
            panic!("an idle connection has a deadline");
        };
        assert!(
            idle >= t0 + Duration::from_secs(60),
            "idle, not header timeout"
        );
        let next = Instant::now();
        a.bytes_read(next);
        assert_eq!(a.deadline(&limits()), Some(next + Duration::from_secs(10)));
    }
}
