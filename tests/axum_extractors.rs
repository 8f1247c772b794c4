//! The layers and the `Principal` extractors inside a real axum server over real HTTP.

mod support;

use axum::Router;
use axum::routing::get;
use support::{get as http_get, serve};
use tower_authn::memory::MemoryUserStore;
use tower_authn::{
    BasicAuthLayer, HeaderTokenLayer, Principal, Requirement, SharedTokenVerifier, UserStoreExt,
};

async fn whoami(p: Principal) -> axum::Json<Principal> {
    axum::Json(p)
}

async fn maybe(p: Option<Principal>) -> String {
    p.map_or_else(|| "anonymous".to_owned(), Principal::into_id)
}

async fn router() -> Router {
    let users = MemoryUserStore::new();
    users
        .add_user("alice", "wonderland", |u| {
            u.with_name("Alice Liddell").with_roles(["admin"])
        })
        .unwrap();
    users
        .add_user("bob", "builder", |u| u.with_roles(["user"]))
        .unwrap();
    let basic = BasicAuthLayer::new(users.password_verifier());
    let token = HeaderTokenLayer::new("X-Auth-Token", SharedTokenVerifier::new("s3rver"))
        .with_query("token");
    Router::new()
        .route("/whoami", get(whoami).route_layer(basic.clone().or(token)))
        .route(
            "/admin",
            get(whoami).route_layer(basic.clone().require(Requirement::role("admin"))),
        )
        .route("/maybe", get(maybe).route_layer(basic.optional()))
        .route("/unprotected", get(whoami))
}

#[tokio::test]
async fn extractors_and_layers_over_http() {
    let addr = serve(router().await).await;
    let url = |p: &str| format!("http://{addr}{p}");

    let alice = http_get(
        &url("/whoami"),
        &[("authorization", "Basic YWxpY2U6d29uZGVybGFuZA==")],
    )
    .await;
    assert_eq!(alice.status, 200);
    assert_eq!(alice.json()["id"], "alice");
    assert_eq!(alice.json()["name"], "Alice Liddell");

    let server = http_get(&url("/whoami?token=s3rver"), &[]).await;
    assert_eq!(server.json()["kind"], "server");

    let none = http_get(&url("/whoami"), &[]).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.challenges().len(), 2);

    let bob = http_get(
        &url("/admin"),
        &[("authorization", "Basic Ym9iOmJ1aWxkZXI=")],
    )
    .await;
    assert_eq!(bob.status, 403);

    assert_eq!(http_get(&url("/maybe"), &[]).await.body, "anonymous");
    assert_eq!(
        http_get(
            &url("/maybe"),
            &[("authorization", "Basic Ym9iOmJ1aWxkZXI=")]
        )
        .await
        .body,
        "bob"
    );
    assert_eq!(
        http_get(&url("/maybe"), &[("authorization", "Basic Ym9iOng=")])
            .await
            .status,
        401
    );

    // A handler that wants a principal on a route without an auth layer answers 401.
    let unprotected = http_get(&url("/unprotected"), &[]).await;
    assert_eq!(unprotected.status, 401);
    assert_eq!(unprotected.json()["error"], "missing_credentials");
}
