//! MIT Kerberos behind [`NegotiateAcceptor`] (feature `kerberos`): the acceptor of
//! `tower-authn-kerberos`, reading its keytab from `KRB5_KTNAME`.

use futures_util::future::{BoxFuture, FutureExt, ready};
use http::HeaderMap;
use http::header::AUTHORIZATION;
use tower_authn_core::AuthError;
use tower_authn_kerberos::{Acceptor, parse_authorization_header};

use crate::identity::{ExternalIdentity, Provider};
use crate::negotiate::{NegotiateAcceptor, Negotiated};

/// The one `Authorization: Negotiate` token of `headers`: none is `missing`, two are
/// `duplicate` (400), a bad encoding `malformed` (400).
fn negotiate_token(headers: &HeaderMap) -> Result<Vec<u8>, AuthError> {
    let mut token = None;
    for value in headers.get_all(AUTHORIZATION) {
        if let Some(t) = parse_authorization_header(value)? {
            if token.replace(t).is_some() {
                return Err(AuthError::duplicate("negotiate: two Negotiate credentials"));
            }
        }
    }
    token.ok_or_else(AuthError::missing)
}

impl NegotiateAcceptor for Acceptor {
    fn accept(&self, headers: &HeaderMap) -> BoxFuture<'static, Result<Negotiated, AuthError>> {
        let token = match negotiate_token(headers) {
            Ok(t) => t,
            Err(e) => return ready(Err(e)).boxed(),
        };
        // The acceptor's permit is taken here, so a full pool answers 503 at once.
        let accepting = Acceptor::accept(self, token);
        async move {
            let accepted = accepting.await?;
            Ok(Negotiated {
                identity: ExternalIdentity::new(
                    Provider::Kerberos,
                    accepted.client(),
                    accepted.user(),
                ),
                reply: accepted.reply().map(<[u8]>::to_vec),
            })
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_token_is_found_once() {
        assert_eq!(
            negotiate_token(&headers(&["Negotiate YWJj"])).unwrap(),
            b"abc"
        );
        assert_eq!(
            negotiate_token(&headers(&["Basic eDp5", "Negotiate YWJj"])).unwrap(),
            b"abc"
        );
        let kind = |v: &[&'static str]| negotiate_token(&headers(v)).unwrap_err().kind();
        use tower_authn_core::ErrorKind::*;
        assert_eq!(kind(&[]), MissingCredentials);
        assert_eq!(kind(&["Basic eDp5"]), MissingCredentials);
        assert_eq!(
            kind(&["Negotiate YWJj", "Negotiate YWJj"]),
            DuplicateCredentials
        );
        assert_eq!(kind(&["Negotiate !!!"]), MalformedCredentials);
    }
}
