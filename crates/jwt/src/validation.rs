//! [`Validation`]: the rules a signed token's header and claims must meet.
//!
//! The defaults are strict: `exp` is required, 60 s of leeway, a token carrying an `aud` is
//! refused unless audiences are configured (or [`Validation::accept_any_audience`] is said
//! out loud), tokens over 8 KiB are refused before any decoding.
//!
//! ```
//! use std::time::Duration;
//! use tower_authn_jwt::{Algorithm, Validation};
//!
//! let rules = Validation::new()
//!     .with_issuers(["https://issuer.example"])
//!     .with_audiences(["my-api"])
//!     .with_algorithms([Algorithm::RS256])
//!     .with_max_lifetime(Duration::from_secs(3600))
//!     .with_leeway(Duration::from_secs(30));
//! assert_eq!(rules.leeway(), Duration::from_secs(30));
//! ```

use std::time::Duration;

use serde_json::Value;

use crate::algorithm::Algorithm;
use crate::claims::{Claim, Claims};
use crate::compact::{Failure, HeaderRules, TypeRule};

/// The default size limit of a whole token, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The rules a token must meet beyond its signature.
#[derive(Clone, Debug)]
pub struct Validation {
    leeway: Duration,
    require_exp: bool,
    require_iat: bool,
    max_lifetime: Option<Duration>,
    max_age: Option<Duration>,
    issuers: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    any_audience: bool,
    algorithms: Option<Vec<Algorithm>>,
    header: HeaderRules,
}

impl Default for Validation {
    fn default() -> Self {
        Self {
            leeway: Duration::from_secs(60),
            require_exp: true,
            require_iat: false,
            max_lifetime: None,
            max_age: None,
            issuers: None,
            audiences: None,
            any_audience: false,
            algorithms: None,
            header: HeaderRules {
                max_bytes: DEFAULT_MAX_TOKEN_BYTES,
                types: TypeRule::AbsentOrJwt,
            },
        }
    }
}

fn strings<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    items.into_iter().map(Into::into).collect()
}

/// The latest NumericDate accepted: 9999-12-31T23:59:59Z. Anything later (`2^64`, `1e300`)
/// is no date a real issuer writes, and would mean "never expires".
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// A NumericDate (RFC 7519 §2): a JSON number of seconds since the epoch, possibly
/// fractional (floored), within `0..=MAX_NUMERIC_DATE`. Strings, `null`, negative and
/// out-of-range values are refused, not clamped.
fn numeric_date(claim: Option<Claim<'_>>) -> Result<Option<i64>, Failure> {
    let Some(claim) = claim else {
        return Ok(None);
    };
    let Some(Value::Number(n)) = claim.as_value() else {
        return Err(Failure::Invalid("jwt: a time claim is not a number"));
    };
    let secs = if let Some(i) = n.as_i64() {
        Some(i)
    } else if n.as_u64().is_some() {
        None // above i64::MAX: far out of range
    } else {
        match n.as_f64() {
            // In range (checked first), so the cast is exact after flooring.
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            Some(f) if f.is_finite() && (0.0..=MAX_NUMERIC_DATE as f64).contains(&f) => {
                Some(f.floor() as i64)
            }
            _ => None,
        }
    };
    match secs {
        Some(s) if (0..=MAX_NUMERIC_DATE).contains(&s) => Ok(Some(s)),
        _ => Err(Failure::Invalid("jwt: a time claim is out of range")),
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Validation {
    /// The defaults (see the module docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 60 s).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Accepts tokens without `exp`. They never expire: use only with a
    /// [`with_max_age`](Self::with_max_age) or for tokens that are checked some other way.
    pub fn allow_missing_exp(mut self) -> Self {
        self.require_exp = false;
        self
    }

    /// Requires an `iat` claim.
    pub fn require_iat(mut self) -> Self {
        self.require_iat = true;
        self
    }

    /// The longest a token may live: refuses a token whose `exp` lies more than `max` after
    /// its `iat` (when it has one), or more than `max` (plus the leeway) after now, so a token
    /// with no `iat` or a back-dated one gains nothing. A token without `exp` is then refused
    /// too. Set it to the lifetime your issuer gives its tokens
    /// ([`JwtIssuer::validation`](crate::JwtIssuer::validation) does); the default is none.
    pub fn with_max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = Some(max);
        self
    }

    /// Treats tokens issued more than `max` ago as expired; requires `iat`.
    pub fn with_max_age(mut self, max: Duration) -> Self {
        self.max_age = Some(max);
        self.require_iat = true;
        self
    }

    /// Accepted `iss` values; the claim is then required.
    pub fn with_issuers<I, S>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.issuers = Some(strings(issuers));
        self
    }

    /// Accepted `aud` values; the claim is then required, and one of its values must match.
    pub fn with_audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences = Some(strings(audiences));
        self
    }

    /// Accepts tokens whatever their `aud`. Without this or
    /// [`with_audiences`](Self::with_audiences), a token that names an audience is refused,
    /// since it was meant for someone else.
    pub fn accept_any_audience(mut self) -> Self {
        self.any_audience = true;
        self
    }

    /// Narrows the algorithms accepted from any key (each key also has its own list).
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Accepted header `typ` values (`JWT`, `at+jwt`, ...), compared case-insensitively and
    /// without an `application/` prefix; the header is then required. Without this, `typ`
    /// must be absent or `JWT`.
    pub fn with_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.header.types = TypeRule::OneOf(strings(types));
        self
    }

    /// Accepts any header `typ`, or none. Only for issuers that write something odd there
    /// and whose tokens cannot be confused with another kind.
    pub fn accept_any_type(mut self) -> Self {
        self.header.types = TypeRule::Any;
        self
    }

    /// The largest token accepted, in bytes, checked before any decoding (default 8 KiB).
    pub fn with_max_token_bytes(mut self, max: usize) -> Self {
        self.header.max_bytes = max;
        self
    }

    /// The leeway.
    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    /// The maximum lifetime, if any.
    pub fn max_lifetime(&self) -> Option<Duration> {
        self.max_lifetime
    }

    /// The accepted issuers, if restricted.
    pub fn issuers(&self) -> Option<&[String]> {
        self.issuers.as_deref()
    }

    /// The accepted audiences, if restricted.
    pub fn audiences(&self) -> Option<&[String]> {
        self.audiences.as_deref()
    }

    pub(crate) fn header_rules(&self) -> &HeaderRules {
        &self.header
    }

    /// Whether `alg` passes the verifier-wide allow-list.
    pub(crate) fn allows(&self, alg: Algorithm) -> bool {
        self.algorithms
            .as_ref()
            .is_none_or(|list| list.contains(&alg))
    }

    /// Checks the claims of a token whose signature is already verified, at `now`.
    pub(crate) fn check_claims(&self, claims: &impl Claims, now: i64) -> Result<(), Failure> {
        let [exp, nbf, iat, iss, aud] = claims.registered();
        let exp = numeric_date(exp)?;
        let nbf = numeric_date(nbf)?;
        let iat = numeric_date(iat)?;
        if exp.is_none() && (self.require_exp || self.max_lifetime.is_some()) {
            return Err(Failure::Invalid("jwt: no exp"));
        }
        if iat.is_none() && self.require_iat {
            return Err(Failure::Invalid("jwt: no iat"));
        }

        if let Some(issuers) = &self.issuers {
            match iss.and_then(Claim::as_str) {
                Some(iss) if issuers.iter().any(|i| i == iss) => {}
                Some(_) => return Err(Failure::Invalid("jwt: iss not accepted")),
                None => return Err(Failure::Invalid("jwt: no iss")),
            }
        }
        self.check_audience(aud)?;

        let leeway = secs(self.leeway);
        if let Some(nbf) = nbf {
            if now.saturating_add(leeway) < nbf {
                return Err(Failure::Invalid("jwt: not valid yet (nbf)"));
            }
        }
        if let Some(iat) = iat {
            if now.saturating_add(leeway) < iat {
                return Err(Failure::Invalid("jwt: issued in the future (iat)"));
            }
        }
        if let (Some(max), Some(exp)) = (self.max_lifetime, exp) {
            let max = secs(max);
            let issued_too_long = iat.is_some_and(|iat| exp.saturating_sub(iat) > max);
            let left_too_long = exp.saturating_sub(now) > max.saturating_add(leeway);
            if issued_too_long || left_too_long {
                return Err(Failure::Invalid("jwt: lifetime longer than allowed"));
            }
        }
        if let Some(exp) = exp {
            if now >= exp.saturating_add(leeway) {
                return Err(Failure::Expired("jwt: expired (exp)"));
            }
        }
        if let (Some(max), Some(iat)) = (self.max_age, iat) {
            if now.saturating_sub(iat) > secs(max).saturating_add(leeway) {
                return Err(Failure::Expired("jwt: older than the maximum age"));
            }
        }
        Ok(())
    }

    fn check_audience(&self, aud: Option<Claim<'_>>) -> Result<(), Failure> {
        let Some(accepted) = &self.audiences else {
            if aud.is_some() && !self.any_audience {
                return Err(Failure::Invalid(
                    "jwt: aud present but no audience configured",
                ));
            }
            return Ok(());
        };
        let matches = |a: &str| accepted.iter().any(|x| x == a);
        let ok = match aud {
            Some(Claim::Strs(list)) => list.iter().any(|a| matches(a)),
            Some(Claim::Value(Value::Array(list))) => {
                if list.iter().any(|a| !a.is_string()) {
                    return Err(Failure::Invalid("jwt: aud not strings"));
                }
                list.iter().filter_map(Value::as_str).any(matches)
            }
            Some(claim) => match claim.as_str() {
                Some(a) => matches(a),
                None => return Err(Failure::Invalid("jwt: aud not strings")),
            },
            None => return Err(Failure::Invalid("jwt: no aud")),
        };
        if ok {
            Ok(())
        } else {
            Err(Failure::Invalid("jwt: aud not accepted"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::{Picked, unique_names};
    use serde_json::{Map, json};

    const NOW: i64 = 1_700_000_000;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    /// The rules over the claims as a map, and as the verifiers pick them from the JSON:
    /// both must answer the same.
    fn check(v: &Validation, c: Value) -> Result<(), Failure> {
        let json = c.to_string();
        let from_map = v.check_claims(&claims(c), NOW);
        let names = unique_names(crate::claims::REGISTERED);
        let mut picked = Picked::wanting(&names).unwrap();
        assert!(picked.parse(&json), "{json}");
        assert_eq!(v.check_claims(&picked, NOW), from_map, "{json}");
        from_map
    }

    #[test]
    fn exp_required_by_default() {
        let v = Validation::new();
        assert_eq!(check(&v, json!({})), Err(Failure::Invalid("jwt: no exp")));
        assert!(check(&v.clone().allow_missing_exp(), json!({})).is_ok());
        assert!(
            check(
                &v.with_max_lifetime(Duration::from_secs(1))
                    .allow_missing_exp(),
                json!({})
            )
            .is_err()
        );
    }

    #[test]
    fn exp_boundaries_with_leeway() {
        let v = Validation::new();
        let exp = NOW - 60;
        assert_eq!(
            check(&v, json!({"exp": exp})),
            Err(Failure::Expired("jwt: expired (exp)"))
        );
        assert!(check(&v, json!({"exp": exp + 1})).is_ok());
        let v0 = Validation::new().with_leeway(Duration::ZERO);
        assert!(check(&v0, json!({"exp": NOW})).is_err());
        assert!(check(&v0, json!({"exp": NOW + 1})).is_ok());
        assert!(
            check(&v0, json!({"exp": NOW as f64 + 0.5})).is_err(),
            "fraction floors"
        );
    }

    #[test]
    fn time_claims_must_be_in_range() {
        let v = Validation::new().allow_missing_exp();
        let out = Err(Failure::Invalid("jwt: a time claim is out of range"));
        for name in ["exp", "nbf", "iat"] {
            for bad in [
                json!(1e300),
                json!(u64::MAX),
                json!(18_446_744_073_709_551_616_f64),
                json!(i64::MAX),
                json!(MAX_NUMERIC_DATE + 1),
                json!(-1),
                json!(-0.5),
                json!(i64::MIN),
            ] {
                assert_eq!(check(&v, json!({ name: bad })), out, "{name}: {bad}");
            }
        }
        // 2^64 as written in a token: serde_json reads it as a float.
        let big: Map<String, Value> =
            serde_json::from_str(r#"{"exp":18446744073709551616}"#).unwrap();
        assert_eq!(v.check_claims(&big, NOW), out);
        assert!(check(&v, json!({"exp": MAX_NUMERIC_DATE})).is_ok());
        assert!(check(&v, json!({"exp": NOW as f64 + 10.5})).is_ok());
        assert!(check(&v, json!({"iat": 0, "nbf": 0})).is_ok());
    }

    #[test]
    fn time_claims_must_be_numbers() {
        let v = Validation::new();
        for bad in [
            json!({"exp": "1800000000"}),
            json!({"exp": NOW + 10, "nbf": null}),
            json!({"exp": NOW + 10, "iat": [1]}),
            json!({"exp": true}),
        ] {
            assert_eq!(
                check(&v, bad.clone()),
                Err(Failure::Invalid("jwt: a time claim is not a number")),
                "{bad}"
            );
        }
    }

    #[test]
    fn nbf_and_iat() {
        let v = Validation::new();
        assert!(check(&v, json!({"exp": NOW + 100, "nbf": NOW + 60})).is_ok());
        assert_eq!(
            check(&v, json!({"exp": NOW + 100, "nbf": NOW + 61})),
            Err(Failure::Invalid("jwt: not valid yet (nbf)"))
        );
        assert_eq!(
            check(&v, json!({"exp": NOW + 100, "iat": NOW + 61})),
            Err(Failure::Invalid("jwt: issued in the future (iat)"))
        );
        assert_eq!(
            check(&v.clone().require_iat(), json!({"exp": NOW + 100})),
            Err(Failure::Invalid("jwt: no iat"))
        );
        let aged = v.with_max_age(Duration::from_secs(600));
        assert!(check(&aged, json!({"exp": NOW + 100, "iat": NOW - 600})).is_ok());
        assert_eq!(
            check(&aged, json!({"exp": NOW + 100, "iat": NOW - 661})),
            Err(Failure::Expired("jwt: older than the maximum age"))
        );
    }

    #[test]
    fn max_lifetime() {
        let v = Validation::new().with_max_lifetime(Duration::from_secs(3600));
        assert!(check(&v, json!({"iat": NOW, "exp": NOW + 3600})).is_ok());
        assert_eq!(
            check(&v, json!({"iat": NOW, "exp": NOW + 3601})),
            Err(Failure::Invalid("jwt: lifetime longer than allowed"))
        );
        assert!(
            check(&v, json!({"exp": NOW + 3661})).is_err(),
            "from now without iat (60 s leeway)"
        );
        assert!(check(&v, json!({"exp": NOW + 3660})).is_ok());
        assert!(
            check(&v, json!({"iat": NOW - 86_400, "exp": NOW + 3661})).is_err(),
            "a long-lived token back-dated"
        );
        assert!(
            check(&v, json!({"nbf": NOW + 86_400, "exp": NOW + 90_000})).is_err(),
            "nbf far ahead does not stretch it either"
        );
        assert_eq!(
            check(&v, json!({"iat": NOW, "exp": NOW + 10 * 365 * 86_400})),
            Err(Failure::Invalid("jwt: lifetime longer than allowed"))
        );
    }

    #[test]
    fn issuer_allow_list() {
        let v = Validation::new().with_issuers(["a", "b"]);
        assert!(check(&v, json!({"exp": NOW + 10, "iss": "b"})).is_ok());
        assert_eq!(
            check(&v, json!({"exp": NOW + 10, "iss": "c"})),
            Err(Failure::Invalid("jwt: iss not accepted"))
        );
        assert_eq!(
            check(&v, json!({"exp": NOW + 10})),
            Err(Failure::Invalid("jwt: no iss"))
        );
        assert_eq!(
            check(&v, json!({"exp": NOW + 10, "iss": ["a"]})),
            Err(Failure::Invalid("jwt: no iss"))
        );
    }

    #[test]
    fn audience_allow_list() {
        let v = Validation::new().with_audiences(["api"]);
        assert!(check(&v, json!({"exp": NOW + 10, "aud": "api"})).is_ok());
        assert!(check(&v, json!({"exp": NOW + 10, "aud": ["x", "api"]})).is_ok());
        assert!(check(&v, json!({"exp": NOW + 10, "aud": ["x"]})).is_err());
        assert!(check(&v, json!({"exp": NOW + 10, "aud": []})).is_err());
        assert!(check(&v, json!({"exp": NOW + 10, "aud": ["api", 1]})).is_err());
        assert!(check(&v, json!({"exp": NOW + 10})).is_err());
        let unset = Validation::new();
        assert!(check(&unset, json!({"exp": NOW + 10})).is_ok());
        assert_eq!(
            check(&unset, json!({"exp": NOW + 10, "aud": "api"})),
            Err(Failure::Invalid(
                "jwt: aud present but no audience configured"
            ))
        );
        assert!(
            check(
                &unset.accept_any_audience(),
                json!({"exp": NOW + 10, "aud": "api"})
            )
            .is_ok()
        );
    }
}
