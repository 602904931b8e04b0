//! `crier run`'s HTTP server, a front end beside the CLI: axum with tower-http's body limit,
//! timeout and (only when configured) CORS; `/healthz`, `/readyz`, `/metrics` and inbound
//! `/hooks/{name}` (`inbound`), the API under `/api/v1` (`api`), whose OpenAPI document
//! is `openapi`, and the web dashboard at `/` (`dashboard`). It runs inside the service's
//! lifecycle: [`start`] ties it to a [`ServiceHandle`], whose graceful stop lets requests in
//! flight finish before the engine stops. Every endpoint calls `ops`, as the CLI does.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::engine::service::{ServiceHandle, ServiceView};
use crate::ops::Desk;
use crate::playbook::plan::ServerPlan;

mod api;
mod auth;
pub mod dashboard;
mod decision;
mod events;
mod inbound;
mod model;
mod openapi;
mod problem;
pub mod replies;

pub use openapi::document;
pub use problem::Problem;

/// What every request handler reads.
#[derive(Clone)]
pub(crate) struct AppState {
    view: ServiceView,
    events: Arc<events::EventLog>,
    hooks: Arc<crate::engine::hooks::HookReceiver>,
    /// The running revision's connectors, which check the updates a network pushes.
    connectors: Arc<dyn Fn() -> Arc<crate::connectors::Connectors> + Send + Sync>,
    /// Makes and checks the links in notices that open a decision's page.
    links: Arc<crate::ops::decision_links::Signer>,
    /// The dashboard's cookies are `Secure`: served over TLS (`server: { tls: … }`), or
    /// behind a proxy that is (`server: { secure_cookies: true }`).
    secure_cookies: bool,
}

impl AppState {
    /// Runs `work` (the plan's texts rendered, for a calendar or `GET /api/v1/plan`) off the
    /// async workers, so a slow template holds no worker the signals and other requests need;
    /// a stop answers at once (503) instead of waiting for it, so a request never holds up
    /// the service's stop.
    async fn render_off_the_runtime<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Problem> {
        tokio::select! {
            done = tokio::task::spawn_blocking(work) => done.map_err(|_| Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "rendering the plan failed",
            )),
            () = self.view.stopping() => Err(Problem::stopping()),
        }
    }

    /// Runs `work`, an action that renders texts and stores what they make (a contest's
    /// disqualification), on the blocking pool with the service's stop flag, which cuts its
    /// renders short. Unlike a view it is awaited to its end, since only its result says
    /// whether it stored anything; with its renders cut short that end comes at once.
    async fn act_off_the_runtime<T: Send + 'static>(
        &self,
        work: impl FnOnce(&crate::text::StopFlag) -> T + Send + 'static,
    ) -> Result<T, Problem> {
        let stop = self.view.stop_flag();
        match tokio::task::spawn_blocking(move || work(&stop)).await {
            Ok(done) => Ok(done),
            // Its message is on stderr.
            Err(error) if error.is_panic() => Err(Problem::internal("the action failed")),
            // The runtime is shutting down.
            Err(_) => Err(Problem::stopping()),
        }
    }

    /// The plan the service runs now and its store.
    fn desk(&self) -> Result<Desk, Problem> {
        match self.view.plan() {
            Some(plan) => Ok(Desk::new(plan, self.view.store())),
            None => Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the service has not loaded its playbooks yet",
            )),
        }
    }
}

/// Binds `address` and serves the API from the service `service` runs, until it stops:
/// over HTTPS when `options` has a certificate (`tls:`), HTTP otherwise. Returns the address
/// bound (port 0 picks a free one).
pub async fn start(
    service: &mut ServiceHandle,
    options: &ServerPlan,
    address: SocketAddr,
) -> std::io::Result<SocketAddr> {
    // The files were checked at load; read again now, as they may have been renewed since.
    let tls = match &options.tls {
        Some(tls) => Some(
            tls.server_config()
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.message))?,
        ),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let view = service.view();
    let base = options
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    let links = Arc::new(
        crate::ops::decision_links::Signer::open(view.store().as_ref(), &base, Utc::now())
            .map_err(std::io::Error::other)?,
    );
    service.set_decision_links(links.clone());
    let state = AppState {
        events: events::EventLog::start(&view),
        view: view.clone(),
        hooks: service.hooks(),
        connectors: Arc::new(service.connectors_source()),
        links,
        secure_cookies: options.secure_cookies || options.tls_enabled(),
    };
    service.attach(tokio::spawn(replies::read_loop(state.clone())));
    let app = router(state, options);
    let task = match tls {
        None => tokio::spawn(async move {
            let stopping = async move { view.stopping().await };
            // Each answer leaves at once: without it, a small answer on a keep-alive
            // connection can wait for the client's delayed acknowledgement (Nagle).
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!("cannot set TCP_NODELAY on a connection: {error}");
                }
            });
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(stopping)
                .await
            {
                tracing::error!("the server stopped: {error}");
            }
        }),
        Some(config) => {
            let listener = listener.into_std()?;
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                view.stopping().await;
                // Requests in flight finish; no new connection is taken.
                stopper.graceful_shutdown(None);
            });
            // TCP_NODELAY under TLS too, for the same reason as over plain HTTP.
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(
                axum_server::tls_rustls::RustlsConfig::from_config(config),
            )
            .acceptor(axum_server::accept::NoDelayAcceptor::new());
            let server = axum_server::from_tcp(listener)
                .acceptor(acceptor)
                .handle(handle);
            tokio::spawn(async move {
                if let Err(error) = server.serve(app.into_make_service()).await {
                    tracing::error!("the server stopped: {error}");
                }
            })
        }
    };
    service.attach(task);
    tracing::info!(address = %bound, tls = options.tls_enabled(), "serving the API and the dashboard");
    Ok(bound)
}

fn router(state: AppState, options: &ServerPlan) -> Router {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(inbound::metrics))
        .route("/hooks/{name}", axum::routing::post(inbound::hook))
        .route(
            "/telegram/{account}",
            axum::routing::post(inbound::telegram),
        )
        .route(
            "/decide/{token}",
            get(decision::page).post(decision::decide),
        )
        .nest("/api/v1", api::routes())
        .merge(dashboard::routes())
        .fallback(not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(RequestBodyLimitLayer::new(options.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            options.request_timeout,
        ));
    if options.cors.is_empty() {
        return router;
    }
    let origins: Vec<HeaderValue> = options
        .cors
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    router.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("last-event-id"),
            ]),
    )
}

async fn not_found() -> Problem {
    Problem::not_found("no such endpoint; the API is under /api/v1 (see /api/v1/openapi.json)")
}

#[utoipa::path(get, path = "/healthz", tag = "health",
    description = "The server is up. No token needed.",
    responses((status = 200, body = model::Health)))]
pub async fn healthz() -> Json<model::Health> {
    Json(model::Health {
        status: "ok".into(),
    })
}

#[utoipa::path(get, path = "/readyz", tag = "health",
    description = "The service runs a valid revision of the playbooks and its store answers. No token needed.",
    responses((status = 200, body = model::Readiness), (status = 503, body = model::Readiness)))]
pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let playbooks_loaded = state.view.plan().is_some();
    let store = state.view.store().last_alive();
    let store_reachable = store.is_ok();
    let detail = match (&store, playbooks_loaded) {
        (Err(error), _) => Some(error.to_string()),
        (Ok(_), false) => Some("the playbooks are not loaded".to_string()),
        _ => None,
    };
    let ready = playbooks_loaded && store_reachable;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(model::Readiness {
            ready,
            playbooks_loaded,
            store_reachable,
            detail,
        }),
    )
}
