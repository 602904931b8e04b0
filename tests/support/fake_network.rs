//! A fake webhook receiver on `127.0.0.1:0`, for connector, crash and fault tests.
//!
//! It runs on its own thread with its own tokio runtime, so it works from a `#[tokio::test]`,
//! from a plain `#[test]`, and as the far end of a child `crier` process; dropping it shuts
//! it down. It records every request, deduplicates posts by `Idempotency-Key` (a repeat gets
//! the first answer again and counts as a repeat, not a new post), and answers with injected
//! faults taken from a queue, or at random with a seeded probability.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::chat_server::{Conn, KillableListener};

/// A way to misbehave, for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `500` without creating the post.
    ServerError,
    /// `429` with `Retry-After: <value>` (seconds or an HTTP date), without creating the post.
    RateLimited { retry_after: String },
    /// `429` with no hint at all, without creating the post.
    RateLimitedNoHint,
    /// `400` with `{"error": message}`, without creating the post.
    BadRequest { message: String },
    /// Creates the post, then waits this long before answering (past the client's timeout).
    Slow(Duration),
    /// Creates the post, then closes the connection without any answer.
    AcceptThenDrop,
}

impl Fault {
    /// Whether the post is created (recorded) before the fault shows.
    fn creates(&self) -> bool {
        matches!(self, Fault::Slow(_) | Fault::AcceptThenDrop)
    }
}

/// What the fake made of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new post.
    Created,
    /// A post already created under this key.
    Repeat,
    /// Refused (by a fault, or for lack of a key); no post created.
    Refused,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub key: Option<String>,
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
    pub outcome: Outcome,
    pub fault: Option<Fault>,
}

/// One post the fake created.
#[derive(Debug, Clone)]
pub struct FakePost {
    pub key: String,
    /// The JSON body of the first request (`Null` if it was not JSON).
    pub body: serde_json::Value,
    pub id: String,
    pub at: Instant,
    /// How many later requests repeated the key.
    pub repeats: usize,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Received>,
    posts: BTreeMap<String, FakePost>,
    faults: VecDeque<Fault>,
    random: Option<(f64, Vec<Fault>, StdRng)>,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeNetwork {
    addr: SocketAddr,
    inner: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeNetwork {
    /// Listens on `127.0.0.1:0` before returning, so requests can be sent at once.
    pub fn start() -> FakeNetwork {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let inner = Shared::default();
        let (shutdown, stop) = oneshot::channel();
        let state = inner.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fake-network-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake network runtime");
                runtime.block_on(async move {
                    let listener =
                        KillableListener(TcpListener::from_std(listener).expect("tokio listener"));
                    let app = Router::new()
                        .route("/", post(receive))
                        .route("/{*path}", post(receive))
                        .with_state(state);
                    let serve =
                        axum::serve(listener, app.into_make_service_with_connect_info::<Conn>());
                    tokio::select! {
                        _ = serve => {}
                        _ = stop => {}
                    }
                });
                // Dropping the runtime cancels every connection, slow replies included.
            })
            .expect("fake network thread");
        FakeNetwork {
            addr,
            inner,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to give a webhook account.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers the next requests with these faults, in order, before any random fault.
    pub fn push_fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Answers each request (once the queue is empty) with one of `faults`, chosen at
    /// random, with probability `probability`; `seed` makes a run repeatable.
    pub fn set_random_faults(&self, probability: f64, faults: Vec<Fault>, seed: u64) {
        self.lock().random = Some((probability, faults, StdRng::seed_from_u64(seed)));
    }

    /// No more faults, queued or random.
    pub fn clear_faults(&self) {
        let mut inner = self.lock();
        inner.faults.clear();
        inner.random = None;
    }

    /// Every request, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.lock().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    /// Posts created, by idempotency key.
    pub fn posts_by_key(&self) -> BTreeMap<String, FakePost> {
        self.lock().posts.clone()
    }

    pub fn created_count(&self) -> usize {
        self.lock().posts.len()
    }

    pub fn repeat_count(&self) -> usize {
        self.lock().posts.values().map(|p| p.repeats).sum()
    }
}

impl Drop for FakeNetwork {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn receive(
    State(state): State<Shared>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = String::from_utf8_lossy(&body).into_owned();
    let (fault, outcome, created) = {
        let mut inner = state.lock().unwrap_or_else(|e| e.into_inner());
        let fault = next_fault(&mut inner);
        let (outcome, created) = match (&key, &fault) {
            (None, _) => (Outcome::Refused, None),
            (Some(_), Some(fault)) if !fault.creates() => (Outcome::Refused, None),
            (Some(key), _) => {
                let next_id = inner.posts.len() + 1;
                match inner.posts.get_mut(key) {
                    Some(existing) => {
                        existing.repeats += 1;
                        (Outcome::Repeat, Some(existing.id.clone()))
                    }
                    None => {
                        let id = format!("post-{next_id}");
                        inner.posts.insert(
                            key.clone(),
                            FakePost {
                                key: key.clone(),
                                body: serde_json::from_str(&body)
                                    .unwrap_or(serde_json::Value::Null),
                                id: id.clone(),
                                at: Instant::now(),
                                repeats: 0,
                            },
                        );
                        (Outcome::Created, Some(id))
                    }
                }
            }
        };
        inner.requests.push(Received {
            key: key.clone(),
            headers,
            body,
            at: Instant::now(),
            outcome: outcome.clone(),
            fault: fault.clone(),
        });
        (fault, outcome, created)
    };
    let answer = |id: String| {
        let status = if outcome == Outcome::Created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        (status, axum::Json(serde_json::json!({ "id": id }))).into_response()
    };
    match (fault, created) {
        (Some(Fault::ServerError), _) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
        (Some(Fault::RateLimited { retry_after }), _) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", retry_after)],
            "slow down",
        )
            .into_response(),
        (Some(Fault::RateLimitedNoHint), _) => {
            (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response()
        }
        (Some(Fault::BadRequest { message }), _) => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({ "error": message })),
        )
            .into_response(),
        (Some(Fault::Slow(delay)), Some(id)) => {
            tokio::time::sleep(delay).await;
            answer(id)
        }
        (Some(Fault::AcceptThenDrop), Some(_)) => {
            conn.drop_connection();
            StatusCode::OK.into_response()
        }
        (_, Some(id)) => answer(id),
        (_, None) => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({ "error": "missing Idempotency-Key header" })),
        )
            .into_response(),
    }
}

fn next_fault(inner: &mut Inner) -> Option<Fault> {
    if let Some(fault) = inner.faults.pop_front() {
        return Some(fault);
    }
    let (probability, faults, rng) = inner.random.as_mut()?;
    if faults.is_empty() || !rng.gen_bool(probability.clamp(0.0, 1.0)) {
        return None;
    }
    let pick = rng.gen_range(0..faults.len());
    Some(faults[pick].clone())
}
