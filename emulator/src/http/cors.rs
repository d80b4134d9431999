//! CORS for the function-call routes, answered as a Convex deployment answers it: the
//! request's origin mirrored, credentials allowed, and any `OPTIONS` request taken as a
//! preflight and answered at once.
//!
//! `tower_http`'s `CorsLayer` configured this way gave the same answers (checked header by
//! header over every method and route), but it clones its configuration and joins its `Vary`
//! list into a new header for every request; without that the load mix served about 5 % more
//! calls per second (BENCHMARKS.md). Here every header value but the mirrored ones is a
//! constant.
//!
//! Every answer gets:
//! - `access-control-allow-credentials: true`,
//! - `access-control-allow-origin`: the request's `Origin`, when it has one,
//! - `vary: origin, access-control-request-method, access-control-request-headers`, added to
//!   any `Vary` the handler set.
//!
//! A preflight (`OPTIONS`, whatever else it carries) is answered 200 with an empty body and,
//! besides those, `access-control-allow-methods`, `access-control-allow-headers` (the request's
//! `Access-Control-Request-Headers`, when it has them) and `access-control-max-age`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::body::Body;
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, Request, Response};
use futures_util::future::{self, Either, Ready};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// How long browsers may cache a preflight answer, as the backend sets it (one day).
const MAX_AGE: HeaderValue = HeaderValue::from_static("86400");
const TRUE: HeaderValue = HeaderValue::from_static("true");
const VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);
const ALLOWED_METHODS: HeaderValue = HeaderValue::from_static("GET,POST,OPTIONS,PATCH,DELETE,PUT");

/// The layer for the `/api` routes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConvexCors;

impl<S> Layer<S> for ConvexCors {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Cors<S> {
        Cors { inner }
    }
}

/// [`ConvexCors`] around a service.
#[derive(Debug, Clone)]
pub struct Cors<S> {
    inner: S,
}

type Answer = Response<Body>;

impl<S> Service<Request<Body>> for Cors<S>
where
    S: Service<Request<Body>, Response = Answer, Error = Infallible>,
{
    type Response = Answer;
    type Error = Infallible;
    type Future = Either<Ready<Result<Answer, Infallible>>, WithCors<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let origin = request.headers().get(header::ORIGIN).cloned();
        if request.method() == Method::OPTIONS {
            let mut answer = Response::new(Body::empty());
            let headers = answer.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS);
            if let Some(asked) = request
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
            }
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
            add_cors_headers(&mut answer, origin);
            return Either::Left(future::ready(Ok(answer)));
        }
        Either::Right(WithCors {
            answer: self.inner.call(request),
            origin,
        })
    }
}

pin_project! {
    /// The handler's answer, with the CORS headers added once it is ready. A named future
    /// rather than a boxed closure, so a call costs no allocation here.
    pub struct WithCors<F> {
        #[pin]
        answer: F,
        origin: Option<HeaderValue>,
    }
}

impl<F: Future<Output = Result<Answer, Infallible>>> Future for WithCors<F> {
    type Output = Result<Answer, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut answer) = ready!(this.answer.poll(cx));
        add_cors_headers(&mut answer, this.origin.take());
        Poll::Ready(Ok(answer))
    }
}

/// The headers every answer gets (see the module docs).
fn add_cors_headers(answer: &mut Answer, origin: Option<HeaderValue>) {
    let headers = answer.headers_mut();
    headers.append(header::VARY, VARY);
    headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
}
