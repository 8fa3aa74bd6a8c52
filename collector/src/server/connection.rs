//! One accepted connection: the service hyper calls for each of its requests, and the timer
//! that closes it when it idles while the collector is under pressure.
//!
//! A connection is *idle* while no request of it is in flight: before its first request
//! head is complete, and between the end of an answer's body and the next head. Under
//! pressure (see [`Admission::under_pressure`]) a connection idle for [`PRESSURE_IDLE_TIMEOUT`]
//! is closed; otherwise `--header-timeout` applies, through hyper.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::{IntoResponse as _, Response};
use tokio::time::Instant;
use tower::ServiceExt as _;

use super::admission::Admission;
use crate::api::ApiError;

/// How long a connection may stay idle under pressure, when `--header-timeout` is longer: a
/// request head takes milliseconds to send, and an agent opens a new connection when it
/// finds its kept-alive one closed.
pub const PRESSURE_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether a connection has a request in flight, and since when it has not.
#[derive(Debug)]
pub(super) struct Activity {
    state: Mutex<ActivityState>,
}

#[derive(Debug)]
struct ActivityState {
    in_flight: usize,
    idle_since: Instant,
}

impl Activity {
    /// A connection accepted now: idle from now.
    pub(super) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                idle_since: Instant::now(),
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A request starts; it ends when the returned guard drops.
    fn begin(self: &Arc<Activity>) -> InFlight {
        self.state().in_flight += 1;
        InFlight(Arc::clone(self))
    }

    /// When the connection became idle; `None` while a request is in flight.
    fn idle_since(&self) -> Option<Instant> {
        let state = self.state();
        (state.in_flight == 0).then_some(state.idle_since)
    }
}

/// A request in flight, from its complete head to the end of its answer's body.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
        }
    }
}

/// Completes when the connection has been idle for `timeout` while the collector is under
/// pressure; the caller then closes the connection. Checked every `timeout`, so a
/// connection idle when pressure starts goes within `timeout`.
pub(super) async fn idle_under_pressure(
    activity: &Activity,
    admission: &Admission,
    timeout: Duration,
) {
    loop {
        let now = Instant::now();
        let wake = match activity.idle_since() {
            Some(since) if now >= since + timeout => {
                if admission.under_pressure() {
                    return;
                }
                now + timeout
            }
            Some(since) => since + timeout,
            None => now + timeout,
        };
        tokio::time::sleep_until(wake).await;
    }
}

/// What hyper calls for each request of a connection: the API's router, with the peer's
/// address as the request extension `ConnectInfo<SocketAddr>` (read it in a handler with
/// `axum::extract::ConnectInfo(peer): ConnectInfo<SocketAddr>`), the request counted in
/// flight until its answer's body ends, and on a reserve slot every route but the health
/// checks refused.
#[derive(Debug, Clone)]
pub(super) struct ConnectionService {
    pub(super) router: axum::Router,
    pub(super) peer: SocketAddr,
    pub(super) activity: Arc<Activity>,
    pub(super) health_only: bool,
}

/// The routes a reserve slot serves.
fn is_health_check<B>(request: &Request<B>) -> bool {
    matches!(request.uri().path(), "/healthz" | "/readyz")
}

impl<B> hyper::service::Service<Request<B>> for ConnectionService
where
    B: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, mut request: Request<B>) -> Self::Future {
        if self.health_only && !is_health_check(&request) {
            return Box::pin(std::future::ready(Ok(
                ApiError::overloaded().into_response()
            )));
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let in_flight = self.activity.begin();
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(request).await?;
            Ok(response.map(|body| {
                Body::new(Counted {
                    body,
                    _in_flight: in_flight,
                })
            }))
        })
    }
}

/// An answer's body that keeps its request in flight until hyper drops it (written out, or
/// the connection gone): a slow reader of a large page is not idle.
struct Counted {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Counted {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use http_body_util::BodyExt as _;
    use hyper::service::Service as _;

    fn service(health_only: bool) -> ConnectionService {
        async fn peer(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
            peer.to_string()
        }
        ConnectionService {
            router: axum::Router::new()
                .route("/peer", get(peer))
                .route("/healthz", get(|| async { "ok" })),
            peer: "192.0.2.7:40000".parse().unwrap(),
            activity: Activity::new(),
            health_only,
        }
    }

    fn get_request(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn handlers_read_the_peer_and_requests_count_until_their_body_ends() {
        let service = service(false);
        assert!(service.activity.idle_since().is_some());
        let response = service.call(get_request("/peer")).await.unwrap();
        assert!(
            service.activity.idle_since().is_none(),
            "in flight while the answer's body is not written"
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "192.0.2.7:40000");
        assert!(service.activity.idle_since().is_some(), "idle again");
    }

    #[tokio::test]
    async fn a_reserve_connection_serves_only_the_health_checks() {
        let service = service(true);
        let health = service.call(get_request("/healthz")).await.unwrap();
        assert_eq!(health.status(), 200);
        let other = service.call(get_request("/peer")).await.unwrap();
        assert_eq!(other.status(), 503);
        let body = other.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "overloaded");
    }
}
