//! What every example server shares: the demo identities of GATEWAY.md, the `whoami`
//! handler and the serving loop. Each example includes it with `mod demo;` (the platform
//! tests include the examples, and with them this file).

use std::error::Error;
use std::net::SocketAddr;

use axum::Router;
use tower_authn::memory::MemoryUserStore;
use tower_authn::{Principal, UserRecord};

/// The SIP domain of alice's HA1B.
pub const SIP_DOMAIN: &str = "sip.example.com";

/// The demo users, passwords as argon2id hashes (even here): `alice` / `wonderland` (admin,
/// with an HA1B for [`SIP_DOMAIN`]) and `bob@example.com` / `builder` (user).
pub fn records() -> Result<Vec<UserRecord>, Box<dyn Error>> {
    let hash = tower_authn::password::hash_password;
    Ok(vec![
        UserRecord::new("alice", hash("wonderland")?)
            .with_name("Alice Liddell")
            .with_email("alice@example.com")
            .with_roles(["admin"])
            .with_attribute("sip_domain", SIP_DOMAIN)
            .with_ha1b(tower_authn::password::ha1b(
                "alice",
                SIP_DOMAIN,
                "wonderland",
            )),
        UserRecord::new("bob@example.com", hash("builder")?)
            .with_name("Bob Builder")
            .with_email("bob@example.com")
            .with_roles(["user"]),
    ])
}

/// The demo users in a memory store.
pub fn users() -> Result<MemoryUserStore, Box<dyn Error>> {
    let users = MemoryUserStore::new();
    for record in records()? {
        users.insert(record);
    }
    Ok(users)
}

/// Every protected route of the examples answers with the principal as JSON.
pub async fn whoami(principal: Principal) -> axum::Json<Principal> {
    axum::Json(principal)
}

/// Binds the address in `$var` (default `default`), for [`serve`].
pub async fn listen(
    var: &str,
    default: &str,
) -> Result<(tokio::net::TcpListener, SocketAddr), Box<dyn Error>> {
    let addr: SocketAddr = std::env::var(var)
        .unwrap_or_else(|_| default.into())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Serves `app` until Ctrl-C, with each connection's peer address (`ConnectInfo`) for the
/// layers that need it.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> Result<(), Box<dyn Error>> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
