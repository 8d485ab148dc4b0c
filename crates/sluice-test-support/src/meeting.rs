//! A local HTTP server that shows whether requests overlapped without timing them: each
//! request it holds waits (up to a patience) until a set number of held requests are in flight
//! together, and the server remembers the most that ever were.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::watch;

/// What the server answers for a path, and whether it holds the request.
pub type Answer = Arc<dyn Fn(&str) -> (Value, bool) + Send + Sync>;

/// A running meeting server (on the test's tokio runtime).
pub struct MeetingServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    state: Arc<State>,
}

struct State {
    meet: usize,
    patience: Duration,
    in_flight: watch::Sender<usize>,
    most: AtomicUsize,
    lonely: AtomicUsize,
}

impl MeetingServer {
    /// Starts a server whose held requests each wait until `meet` held requests are in flight
    /// (or `patience` passes, which counts the request as lonely). `answer` gives each path's
    /// JSON body and whether to hold it.
    pub async fn start(meet: usize, patience: Duration, answer: Answer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(State {
            meet,
            patience,
            in_flight: watch::channel(0).0,
            most: AtomicUsize::new(0),
            lonely: AtomicUsize::new(0),
        });
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (st, answer) = (st.clone(), answer.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<_>| {
                        let (st, answer) = (st.clone(), answer.clone());
                        async move { Ok::<_, Infallible>(respond(&st, &answer, req.uri().path()).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, state }
    }

    /// The most held requests that were ever in flight at once.
    #[must_use]
    pub fn most_at_once(&self) -> usize {
        self.state.most.load(Ordering::SeqCst)
    }

    /// How many held requests gave up waiting for company.
    #[must_use]
    pub fn lonely(&self) -> usize {
        self.state.lonely.load(Ordering::SeqCst)
    }
}

async fn respond(st: &State, answer: &Answer, path: &str) -> Response<Full<Bytes>> {
    let (body, hold) = answer(path);
    if hold {
        let mut now = 0;
        st.in_flight.send_modify(|n| {
            *n += 1;
            now = *n;
        });
        st.most.fetch_max(now, Ordering::SeqCst);
        let mut seen = st.in_flight.subscribe();
        let met = tokio::time::timeout(st.patience, seen.wait_for(|n| *n >= st.meet))
            .await
            .is_ok_and(|r| r.is_ok());
        if !met {
            st.lonely.fetch_add(1, Ordering::SeqCst);
        }
        // Stay a moment so the others that met this one see it too.
        tokio::time::sleep(Duration::from_millis(20)).await;
        st.in_flight.send_modify(|n| *n -= 1);
    }
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
