//! The OpenAPI 3.1 document of the API, made by `utoipa` from the handlers' `#[utoipa::path]`
//! and the bodies' types; served at `/api/v1/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{api, events, inbound, model, problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "crier",
        description = "The API of `crier run`: what the playbooks plan and did, and the actions people take on them. Every call but `/healthz`, `/readyz` and this document carries `Authorization: Bearer <token>` (`crier token new PERSON`); refusals are RFC 9457 problem details."
    ),
    paths(
        super::healthz,
        super::readyz,
        inbound::metrics,
        inbound::hook,
        inbound::telegram,
        inbound::mentions,
        api::plan,
        api::status,
        api::runs,
        api::run,
        api::sends,
        api::approvals,
        api::approve,
        api::reject,
        api::pauses,
        api::pause,
        api::resume,
        api::trigger,
        api::incidents,
        api::incident,
        api::incident_report,
        api::incident_ack,
        api::incident_approve,
        api::incident_reject,
        api::incident_resolve,
        api::contests,
        api::contest,
        api::contest_entries,
        api::contest_proof,
        api::disqualify,
        api::accounts_check,
        api::tokens,
        api::new_token,
        api::revoke_token,
        events::stream,
    ),
    components(schemas(problem::Problem, model::Health, model::Readiness)),
    modifiers(&Bearer),
    tags(
        (name = "views", description = "What crier plans, did and holds"),
        (name = "actions", description = "What people decide"),
        (name = "tokens", description = "People's API tokens"),
        (name = "health", description = "For load balancers, orchestrators and Prometheus"),
        (name = "inbound", description = "Events other tools push in"),
    )
)]
struct Document;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The API's OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = Document::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_string();
    document
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
