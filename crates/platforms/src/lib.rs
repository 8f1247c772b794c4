//! The platforms tower-authn speaks, one module each: what that platform's clients send and
//! expect (header names, error shape, layer constructors, routers and token settings), built
//! on the mechanisms of `tower-authn-core`, `-jwt`, `-s2s` and `-axum`.
//!
//! | module | platform | what |
//! |---|---|---|
//! | [`xivo`] | XiVO / XiVO CC | login, check (renew), logout; `X-Auth-Token` / `?token=`; `{error, message}` |
//! | [`voltmx`] | Volt MX Foundry | accounts login / refresh, OAuth access pairs, app API keys, claims, device tokens; `{status, code, message}` |
//! | [`opentact`] | Opentact | `/rest/auth`, its HS256 JWT in `X-Auth-Token` / `?jwt=`; `{success: false, ...}` |
//! | [`ccai`] | Google CCAI Platform | the SDK token endpoint and its HS256 JWT |
//! | [`wildix`] | Wildix WMS 5 | signed server-to-server requests; `{type: "error", reason}` |
//!
//! A user who runs one platform's clients reads one module; each platform's example server
//! (`examples/<platform>.rs`) is a short configuration of it.

pub mod ccai;
pub mod opentact;
pub mod voltmx;
pub mod wildix;
pub mod xivo;

/// A signed platform JWT as an [`IssuedToken`](tower_authn_core::issue::IssuedToken), for the
/// platforms whose token format is a JWT (CCAI, Opentact): a key that cannot sign is logged
/// and answers 503.
fn issued_jwt(
    signed: Result<String, tower_authn_jwt::IssueError>,
    platform: &'static str,
) -> futures_util::future::BoxFuture<
    'static,
    Result<tower_authn_core::issue::IssuedToken, tower_authn_core::AuthError>,
> {
    let issued = signed
        .map_err(|e| {
            tracing::error!(error = %e, platform, "cannot sign a platform token");
            tower_authn_core::AuthError::unavailable("cannot sign a token")
        })
        .and_then(tower_authn_core::issue::IssuedToken::from_jwt);
    Box::pin(futures_util::future::ready(issued))
}

/// Splits a display name into first and last name at the first space.
fn split_name(name: Option<&str>) -> (Option<&str>, Option<&str>) {
    match name.map(str::trim) {
        None | Some("") => (None, None),
        Some(n) => match n.split_once(' ') {
            Some((first, last)) => (Some(first), Some(last.trim())),
            None => (Some(n), None),
        },
    }
}
