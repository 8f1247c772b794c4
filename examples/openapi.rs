//! A router that documents its authentication from its own layers: `GET /openapi.json` is an
//! OpenAPI 3.1 document whose security schemes and per-route requirements come from
//! `SecurityDoc::of(&layer)`, so what the document says is what the layers do.
//!
//! ```sh
//! cargo run --features openapi --example openapi
//! curl -s http://127.0.0.1:8090/openapi.json
//! ```

// An example server talks to its terminal.
#![allow(clippy::print_stdout)]

pub mod demo;

use axum::Router;
use axum::routing::get;
use tower_authn::openapi::SecurityDoc;
use tower_authn::{
    AccessSecretLayer, BasicAuthLayer, HeaderTokenLayer, KeyStoreExt, SharedTokenVerifier,
    UserStoreExt, memory::MemoryKeyStore, memory::MemoryUserStore,
};
use utoipa::openapi::path::OperationBuilder;
use utoipa::openapi::response::Response;
use utoipa::openapi::{HttpMethod, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, Paths};

/// One documented `GET` route.
fn operation(summary: &str) -> PathItem {
    PathItem::new(
        HttpMethod::Get,
        OperationBuilder::new()
            .summary(Some(summary))
            .response("200", Response::new("the principal"))
            .response("401", Response::new("no or a wrong credential")),
    )
}

/// The server: `/whoami` takes Basic or a token in `X-Auth-Token` / `?token=`, `/jwt/whoami`
/// a Bearer JWT (here checked as a shared token, to keep the example small), and
/// `/messaging/whoami` an `AccessToken` + `AccessSecret` pair; `/openapi.json` describes
/// exactly that.
pub fn app(users: MemoryUserStore, shared: &str) -> Router {
    let keys = MemoryKeyStore::new();
    let user_or_token = BasicAuthLayer::new(users.password_verifier()).or(HeaderTokenLayer::new(
        "X-Auth-Token",
        SharedTokenVerifier::new(shared),
    )
    .with_query("token"));
    let bearer = HeaderTokenLayer::bearer(SharedTokenVerifier::new(shared));
    let pair = AccessSecretLayer::new(keys.access_pair_verifier());

    let mut doc: OpenApi = OpenApiBuilder::new()
        .info(InfoBuilder::new().title("tower-authn example").version("1"))
        .paths(
            Paths::builder()
                .path("/whoami", operation("who called (Basic or a token)"))
                .path("/jwt/whoami", operation("who called (a Bearer JWT)"))
                .path(
                    "/messaging/whoami",
                    operation("who called (an access pair)"),
                ),
        )
        .build();
    SecurityDoc::of(&user_or_token).apply(&mut doc, &["/whoami"]);
    SecurityDoc::of(&bearer)
        .bearer_format("JWT")
        .apply(&mut doc, &["/jwt/whoami"]);
    SecurityDoc::of(&pair).apply(&mut doc, &["/messaging/whoami"]);
    let doc = std::sync::Arc::new(doc);

    Router::new()
        .route("/whoami", get(demo::whoami).route_layer(user_or_token))
        .route("/jwt/whoami", get(demo::whoami).route_layer(bearer))
        .route("/messaging/whoami", get(demo::whoami).route_layer(pair))
        .route(
            "/openapi.json",
            get(move || {
                let doc = std::sync::Arc::clone(&doc);
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (listener, addr) = demo::listen("OPENAPI_ADDR", "127.0.0.1:8090").await?;
    println!("listening on http://{addr}");
    println!("try: curl -s http://{addr}/openapi.json");
    demo::serve(listener, app(demo::users()?, "s3rver")).await
}
