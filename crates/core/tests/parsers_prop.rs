//! Property tests: the parsers never panic on any input, and round-trip what they accept.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Request, Uri};
use proptest::prelude::*;
use secrecy::ExposeSecret;
use tower_authn_core::cookies::{cookie_values, remove_cookies};
use tower_authn_core::credential::TokenCredential;
use tower_authn_core::csrf::Origin;
use tower_authn_core::head::{
    hide_query, query_values, remove_query_params, remove_subprotocol_tokens, split_authorization,
    subprotocol_tokens,
};
use tower_authn_core::scheme::Extraction;
use tower_authn_core::schemes::parse_basic;
use tower_authn_core::{
    AuthError, Challenge, CookieTokenLayer, HeaderTokenLayer, Principal, Scheme,
};

proptest! {
    /// The fuzz target's invariant (fuzz/fuzz_targets/basic.rs): whatever is accepted
    /// has a user without a colon or control character; and what is refused is a 400.
    #[test]
    fn basic_accepts_only_clean_users(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = split_authorization(&bytes);
        let mut prefixed = b"Basic ".to_vec();
        prefixed.extend_from_slice(&bytes);
        let encoded = format!("Basic {}", STANDARD.encode(&bytes));
        for input in [bytes.clone(), prefixed, encoded.into_bytes()] {
            match parse_basic(&input) {
                Ok(Some(c)) => {
                    prop_assert!(!c.username.contains(':'));
                    prop_assert!(!c.username.chars().any(char::is_control));
                    prop_assert!(!c.password.expose_secret().chars().any(char::is_control));
                }
                Ok(None) => prop_assert!(
                    !input.get(..5).is_some_and(|h| h.eq_ignore_ascii_case(b"basic")),
                    "a value naming Basic is never absent"
                ),
                Err(e) => prop_assert_eq!(e.status(), 400),
            }
        }
    }

    /// A Basic value with anything but exactly one space after the name is a 400.
    #[test]
    fn basic_needs_exactly_one_space(sep in "(\\t|  +| \\t|)", user in "[a-z]{1,8}", password in "[a-z]{0,8}") {
        let header = format!("Basic{sep}{}", STANDARD.encode(format!("{user}:{password}")));
        prop_assert_eq!(parse_basic(header.as_bytes()).unwrap_err().status(), 400);
    }

    #[test]
    fn basic_round_trips(user in "[^:\\p{Cc}]{0,40}", password in "[^\\p{Cc}]{0,60}", scheme in "[bB][aA][sS][iI][cC]") {
        let header = format!("{scheme} {}", STANDARD.encode(format!("{user}:{password}")));
        let c = parse_basic(header.as_bytes()).unwrap().unwrap();
        prop_assert_eq!(c.username, user);
        prop_assert_eq!(c.password.expose_secret(), password.as_str());
    }

    #[test]
    fn basic_rejects_control_characters(user in "[a-z]{1,8}", ctl in "\\p{Cc}", password in "[a-z]{0,8}") {
        let header = format!("Basic {}", STANDARD.encode(format!("{user}:{password}{ctl}")));
        prop_assert_eq!(parse_basic(header.as_bytes()).unwrap_err().status(), 400);
    }

    #[test]
    fn query_removal_keeps_everything_else(
        pairs in proptest::collection::vec(("[a-z]{1,5}", "[a-zA-Z0-9%+._~-]{0,8}"), 0..6),
        token in "[A-Za-z0-9._-]{1,20}",
        at in 0usize..6,
    ) {
        let mut segments: Vec<String> = pairs.iter().filter(|(k, _)| k != "token").map(|(k, v)| format!("{k}={v}")).collect();
        let expected = segments.join("&");
        let at = at.min(segments.len());
        segments.insert(at, format!("token={token}"));
        let uri: Uri = format!("/p?{}", segments.join("&")).parse().unwrap();
        let out = remove_query_params(&uri, &[Cow::Borrowed("token")]).unwrap();
        if expected.is_empty() {
            prop_assert_eq!(out.to_string(), "/p");
        } else {
            prop_assert_eq!(out.to_string(), format!("/p?{expected}"));
        }
    }

    /// Reading a parameter decodes only the matching ones, and yields exactly what
    /// `form_urlencoded::parse` of the whole query yields for that name.
    #[test]
    fn query_values_match_form_urlencoded(query in "[a-z=&%+.0-9A-F\u{e9}]{0,40}", name in "[a-z +]{1,3}") {
        if let Ok(uri) = format!("/x?{query}").parse::<Uri>() {
            let want: Vec<String> = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.into_owned())
                .collect();
            let got: Vec<String> = query_values(&uri, &name).map(|v| v.into_owned()).collect();
            prop_assert_eq!(got, want);
        }
    }

    /// The fuzz target's invariants (fuzz/fuzz_targets/query_remove.rs): after removal no
    /// credential parameter is left, and the path is untouched.
    #[test]
    fn query_removal_leaves_no_credential(query in "[ -~]{0,64}") {
        if let Ok(uri) = format!("/x?{query}").parse::<Uri>() {
            let names = [Cow::Borrowed("token"), Cow::Borrowed("jwt")];
            match remove_query_params(&uri, &names) {
                Some(out) => {
                    prop_assert_eq!(query_values(&out, "token").count(), 0, "left in {}", out);
                    prop_assert_eq!(query_values(&out, "jwt").count(), 0, "left in {}", out);
                    prop_assert_eq!(out.path(), uri.path());
                }
                None => {
                    prop_assert_eq!(query_values(&uri, "token").count(), 0);
                    prop_assert_eq!(query_values(&uri, "jwt").count(), 0);
                }
            }
        }
    }

    /// The one-allocation rewrite gives what joining the kept segments with `&` gives (an
    /// empty segment before any kept one adds nothing), and the in-place `hide_query` of the
    /// engine gives the same URI.
    #[test]
    fn query_removal_matches_the_joining_model(query in "[a-z=&%+.]{0,40}", absolute in any::<bool>()) {
        let base = if absolute { "http://h:1/x" } else { "/x" };
        if let Ok(uri) = format!("{base}?{query}").parse::<Uri>() {
            let names = [Cow::Borrowed("token"), Cow::Borrowed("jwt")];
            let named = |segment: &str| {
                let key = segment.split('=').next().unwrap_or_default();
                form_urlencoded::parse(key.as_bytes()).next().is_some_and(|(k, _)| names.contains(&k))
            };
            let q = uri.query().unwrap_or_default();
            let mut kept = String::new();
            for segment in q.split('&').filter(|s| !named(s)) {
                if !kept.is_empty() {
                    kept.push('&');
                }
                kept.push_str(segment);
            }
            let out = remove_query_params(&uri, &names);
            if q.split('&').any(named) {
                let want = if kept.is_empty() { base.to_owned() } else { format!("{base}?{kept}") };
                prop_assert_eq!(out.as_ref().map(ToString::to_string), Some(want));
            } else {
                prop_assert!(out.is_none());
            }
            let (mut head, ()) = http::Request::builder().uri(uri.clone()).body(()).unwrap().into_parts();
            hide_query(&mut head, &names);
            prop_assert_eq!(head.uri, out.unwrap_or(uri));
        }
    }

    #[test]
    fn query_removal_never_panics(query in "[ -~]{0,64}") {
        if let Ok(uri) = format!("/x?{query}").parse::<Uri>() {
            let _ = remove_query_params(&uri, &[Cow::Borrowed("token"), Cow::Borrowed("jwt")]);
        }
    }

    #[test]
    fn token_extraction_never_panics(
        header in proptest::collection::vec(any::<u8>(), 0..64),
        auth in proptest::collection::vec(any::<u8>(), 0..64),
        query in "[ -~]{0,48}",
    ) {
        let verify = |_: TokenCredential| async { Err::<Principal, _>(AuthError::invalid("x")) };
        let layer = HeaderTokenLayer::new("X-Auth-Token", verify).with_bearer().with_query("token");
        let mut req = Request::get("/").body(()).unwrap();
        if let Ok(uri) = format!("/x?{query}").parse::<Uri>() {
            *req.uri_mut() = uri;
        }
        if let Ok(v) = HeaderValue::from_bytes(&header) {
            req.headers_mut().insert("x-auth-token", v);
        }
        if let Ok(v) = HeaderValue::from_bytes(&auth) {
            req.headers_mut().insert("authorization", v);
        }
        let (parts, ()) = req.into_parts();
        let _ = layer.scheme().extract(&parts);
    }

    #[test]
    fn challenges_are_always_valid_header_values(realm in any::<String>()) {
        let c = Challenge::new("Basic").realm(realm).param("charset", "UTF-8");
        let v = c.to_header_value();
        prop_assert!(!v.as_bytes().iter().any(|b| b.is_ascii_control() && *b != b'\t'));
    }

    /// The cookie source never panics, whatever the bytes of however many `Cookie` lines
    /// and whatever the method and `Origin`; after removal no copy of the cookie is left,
    /// and what the extractor decides agrees with the copies the parser saw.
    #[test]
    fn cookie_parsing_never_panics(
        lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..4),
        post in any::<bool>(),
        origin in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..32)),
    ) {
        let mut req = Request::builder()
            .method(if post { "POST" } else { "GET" })
            .uri("/")
            .header("host", "gw.example");
        for line in &lines {
            if let Ok(v) = HeaderValue::from_bytes(line) {
                req = req.header("cookie", v);
            }
        }
        if let Some(v) = origin.and_then(|o| HeaderValue::from_bytes(&o).ok()) {
            req = req.header("origin", v);
        }
        let (mut parts, ()) = req.body(()).unwrap().into_parts();
        let copies: Vec<Result<String, &str>> = cookie_values(&parts.headers, "sid")
            .map(|v| v.map(|s| s.expose_secret().to_owned()))
            .collect();
        let verify = |_: TokenCredential| async { Err::<Principal, _>(AuthError::invalid("x")) };
        let layer = CookieTokenLayer::new("sid", verify);
        match layer.scheme().extract(&parts) {
            Extraction::Found(c) => {
                prop_assert_eq!(copies.len(), 1);
                prop_assert_eq!(copies[0].as_deref(), Ok(c.expose()));
            }
            Extraction::Absent => prop_assert!(copies.is_empty()),
            Extraction::Rejected(e) => {
                prop_assert!(!copies.is_empty());
                prop_assert!(matches!(e.status().as_u16(), 400 | 403), "{}", e.status());
            }
        }
        remove_cookies(&mut parts.headers, &[Cow::Borrowed("sid")]);
        prop_assert_eq!(cookie_values(&parts.headers, "sid").count(), 0);
    }

    /// The cookie is found among random valid pairs, on any line, and its removal keeps
    /// every other pair byte for byte and in order.
    #[test]
    fn the_cookie_is_found_among_other_pairs(
        lines in proptest::collection::vec(
            proptest::collection::vec(
                ("[A-Za-z0-9_.!#$%&'*+^`|~-]{1,10}", "[!#-+\\--:<-\\[\\]-~]{0,12}", "[ ]{0,2}"),
                0..5,
            ),
            1..4,
        ),
        value in "[!#-+\\--:<-\\[\\]-~]{1,24}",
        quoted in any::<bool>(),
        at_line in any::<prop::sample::Index>(),
        at_pair in any::<prop::sample::Index>(),
    ) {
        let ours = if quoted { format!("sid=\"{value}\"") } else { format!("sid={value}") };
        let mut lines: Vec<Vec<String>> = lines
            .into_iter()
            .map(|pairs| {
                pairs
                    .into_iter()
                    .filter(|(name, _, _)| name != "sid")
                    .map(|(name, v, pad)| format!("{pad}{name}={v}{pad}"))
                    .collect()
            })
            .collect();
        let line = at_line.index(lines.len());
        let pos = at_pair.index(lines[line].len() + 1);
        lines[line].insert(pos, ours);
        let mut headers = http::HeaderMap::new();
        for pairs in &lines {
            if !pairs.is_empty() {
                headers.append("cookie", HeaderValue::from_str(&pairs.join(";")).unwrap());
            }
        }
        let found: Vec<Result<String, &str>> = cookie_values(&headers, "sid")
            .map(|v| v.map(|s| s.expose_secret().to_owned()))
            .collect();
        prop_assert_eq!(found, vec![Ok(value.clone())]);

        let mut req = Request::get("/").body(()).unwrap();
        *req.headers_mut() = headers.clone();
        let (parts, ()) = req.into_parts();
        let verify = |_: TokenCredential| async { Err::<Principal, _>(AuthError::invalid("x")) };
        let layer = HeaderTokenLayer::new("X-Auth-Token", verify).with_cookie("sid");
        match layer.scheme().extract(&parts) {
            Extraction::Found(c) => prop_assert_eq!(c.expose(), value.as_str()),
            other => prop_assert!(false, "{other:?}"),
        }

        remove_cookies(&mut headers, &[Cow::Borrowed("sid")]);
        let expected: Vec<String> = lines
            .iter()
            .enumerate()
            .filter_map(|(i, pairs)| {
                if i == line {
                    let kept: Vec<&str> = pairs
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != pos)
                        .map(|(_, p)| p.trim())
                        .collect();
                    (!kept.is_empty()).then(|| kept.join("; "))
                } else {
                    (!pairs.is_empty()).then(|| pairs.join(";"))
                }
            })
            .collect();
        let got: Vec<String> = headers
            .get_all("cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        prop_assert_eq!(got, expected);
    }

    /// The subprotocol source never panics; after removal no token entry is left, and the
    /// other entries are kept in order.
    #[test]
    fn subprotocol_parsing_never_panics(
        lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..48), 0..3),
        entries in proptest::collection::vec("(cti|chat|authn\\.bearer\\.[A-Za-z0-9._-]{0,8}|authn\\.bearer|[!-~]{1,6})", 0..4),
    ) {
        let mut headers = http::HeaderMap::new();
        for line in &lines {
            if let Ok(v) = HeaderValue::from_bytes(line) {
                headers.append("sec-websocket-protocol", v);
            }
        }
        if !entries.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&entries.join(", ")) {
                headers.append("sec-websocket-protocol", v);
            }
        }
        let tokens = subprotocol_tokens(&headers).count();
        let mut req = Request::get("/").body(()).unwrap();
        *req.headers_mut() = headers.clone();
        let (parts, ()) = req.into_parts();
        let verify = |_: TokenCredential| async { Err::<Principal, _>(AuthError::invalid("x")) };
        let layer = HeaderTokenLayer::new("X-Auth-Token", verify).with_subprotocol();
        match layer.scheme().extract(&parts) {
            Extraction::Found(_) => prop_assert_eq!(tokens, 1),
            Extraction::Absent => prop_assert_eq!(tokens, 0),
            Extraction::Rejected(e) => {
                prop_assert!(tokens >= 1);
                prop_assert_eq!(e.status().as_u16(), 400);
            }
        }
        let before = headers.clone();
        remove_subprotocol_tokens(&mut headers);
        prop_assert_eq!(subprotocol_tokens(&headers).count(), 0);
        if tokens == 0 {
            prop_assert_eq!(headers, before, "nothing to remove, nothing changed");
        } else {
            prop_assert!(headers.get_all("sec-websocket-protocol").iter().count() <= 1);
        }
    }

    /// Origin parsing never panics; a parsed origin's serialization parses back to itself.
    #[test]
    fn origins_parse_and_serialize_back(text in "(https?://)?[a-zA-Z0-9.:\\[\\]/@?#-]{0,24}|[ -~]{0,32}") {
        if let Some(origin) = Origin::parse(&text) {
            let serialized = origin.to_string();
            let again = Origin::parse(&serialized);
            prop_assert!(again.is_some(), "{serialized}");
            let again = again.unwrap();
            prop_assert_eq!(again.https, origin.https);
            prop_assert_eq!(again.port, origin.port);
            prop_assert!(again.host.eq_ignore_ascii_case(origin.host));
        }
    }
}
