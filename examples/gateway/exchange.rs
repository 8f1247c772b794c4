//! The XiVO credential exchanges' providers, from the configuration (GATEWAY.md "XiVO
//! credential exchange"): CAS and OpenID Connect through the gateway's HTTP client, Kerberos
//! from the keytab in `KRB5_KTNAME` when the gateway is built with `--features kerberos`.

use std::error::Error;

use tower_authn::exchange::cas::CasValidator;
use tower_authn::exchange::oidc::OidcProvider;
use tower_authn::platforms::xivo::Providers;

use super::config::ExchangeConfig;

/// The providers `config` names; a provider that cannot be built is a start-up error, one
/// that is not configured leaves its route answering 503.
pub(crate) fn providers(config: &ExchangeConfig) -> Result<Providers, Box<dyn Error>> {
    let mut providers = Providers::new();
    if let Some((url, services)) = &config.cas {
        providers = providers.with_cas(
            CasValidator::new(url, services.iter().cloned(), super::fetcher::fetcher())
                .map_err(|e| format!("CAS_SERVER_URL: {e}"))?,
        );
    }
    if let Some(oidc) = &config.oidc {
        let provider = OidcProvider::new(&oidc.issuer, &oidc.audience, super::fetcher::fetcher())
            .map_err(|e| format!("OIDC_ISSUER: {e}"))?
            .with_user_claim(oidc.user_claim.clone());
        // Discovery runs on first use (and is retried after a failure), so a provider that
        // is down at start delays nothing but its own route.
        providers = providers.with_oidc(provider);
    }
    if config.keytab {
        providers = negotiate(providers, &config.sso_service);
    }
    Ok(providers)
}

#[cfg(feature = "kerberos")]
#[allow(clippy::print_stderr)] // a start-up report, as for unloadable key sources
fn negotiate(providers: Providers, service: &str) -> Providers {
    match tower_authn::kerberos::Acceptor::new(service) {
        Ok(acceptor) => providers.with_negotiate(acceptor),
        Err(e) => {
            eprintln!(
                "warning: Kerberos single sign-on is off ({e}): /xuc/api/2.0/auth/sso answers 503"
            );
            providers
        }
    }
}

#[cfg(not(feature = "kerberos"))]
fn negotiate(providers: Providers, _service: &str) -> Providers {
    providers
}
