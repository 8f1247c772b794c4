//! The vectors W1-W3 of `shared/vectors/wildix-s2s.json`, reproduced byte for byte, and the
//! requests they describe accepted by the verifier.

mod support;

use bytes::Bytes;
use http::Request;
use serde_json::Value as Json;
use support::*;
use tower_authn_s2s::php::{Array, Key, Value};
use tower_authn_s2s::token::UnverifiedToken;
use tower_authn_s2s::{PhpClientCall, Signer};

/// A JSON object as a PHP array (strings, numbers, booleans, nesting).
fn to_array(v: &Json) -> Array {
    let mut a = Array::new();
    if let Json::Object(map) = v {
        for (k, v) in map {
            a.insert(Key::from(k.as_str()), to_value(v));
        }
    }
    a
}

fn to_value(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0))),
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::from(items.iter().map(to_value).collect::<Vec<_>>()),
        Json::Object(_) => Value::Array(to_array(v)),
    }
}

fn vector_signer(config: &Json) -> Signer {
    Signer::new(
        config["app_id"].as_str().unwrap(),
        config["app_name"].as_str().unwrap(),
        config["secret"].as_str().unwrap(),
    )
    .with_host(config["host"].as_str().unwrap())
}

#[test]
fn w1_to_w3_are_reproduced_byte_for_byte() {
    let file = vectors();
    let config = &file["config"];
    let signer = vector_signer(config);
    let now = config["fixed_time"].as_i64().unwrap();
    let vectors = file["vectors"].as_object().unwrap();
    assert!(vectors.len() >= 3);
    for (name, v) in vectors {
        let input = &v["input"];
        let params = to_array(&input["params"]);
        let body = to_array(&input["body"]);
        let headers: Vec<(String, String)> = input["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let header_refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let call = PhpClientCall {
            method: input["method"].as_str().unwrap(),
            endpoint: input["endpoint"].as_str().unwrap(),
            params: &params,
            body: &body,
            headers: &header_refs,
        };
        let req = signer.php_client_request(&call, now).unwrap();
        let sig = &req.signature;

        assert_eq!(
            String::from_utf8(sig.canonical().to_vec()).unwrap(),
            v["canonical"].as_str().unwrap(),
            "{name}: canonical"
        );
        assert_eq!(sig.hash(), v["sha256"].as_str().unwrap(), "{name}: sha256");
        let claims = sig.claims();
        let payload = &v["payload"];
        assert_eq!(claims.iss, payload["iss"].as_str().unwrap(), "{name}: iss");
        assert_eq!(claims.iat, payload["iat"].as_i64().unwrap(), "{name}: iat");
        assert_eq!(claims.exp, payload["exp"].as_i64().unwrap(), "{name}: exp");
        let payload_json: Json = serde_json::from_str(&claims.to_json()).unwrap();
        assert_eq!(&payload_json, payload, "{name}: payload");
        assert_eq!(
            sig.authorization().to_str().unwrap(),
            v["authorization"].as_str().unwrap(),
            "{name}: authorization"
        );
        assert_eq!(
            req.target,
            v["request_target_on_wire"].as_str().unwrap(),
            "{name}: target"
        );
        if let Some(wire) = v.get("body_on_wire") {
            assert_eq!(req.body, wire["body"].as_str().unwrap(), "{name}: body");
            let ct = req
                .headers
                .iter()
                .find(|(n, _)| n == "Content-Type")
                .map(|(_, v)| v);
            assert_eq!(
                ct.map(String::as_str),
                wire["content_type"].as_str(),
                "{name}: type"
            );
        }

        // The token reads back with the same claims.
        let token = v["authorization"]
            .as_str()
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap();
        let parsed = UnverifiedToken::parse(token).unwrap();
        assert!(
            parsed.verify(config["secret"].as_str().unwrap().as_bytes()),
            "{name}: hmac"
        );
        assert_eq!(&parsed.claims().unwrap(), claims, "{name}: claims");
    }
}

#[tokio::test]
async fn the_vector_requests_are_accepted_as_they_were_sent() {
    let file = vectors();
    let config = &file["config"];
    let now = config["fixed_time"].as_u64().unwrap();
    for (name, v) in file["vectors"].as_object().unwrap() {
        let method = v["input"]["method"].as_str().unwrap();
        // Guzzle sends the form content type on every request, with or without a body.
        let (content_type, body) = match v.get("body_on_wire") {
            Some(wire) => (
                wire["content_type"].as_str().unwrap(),
                Bytes::from(wire["body"].as_str().unwrap().to_owned()),
            ),
            None => ("application/x-www-form-urlencoded", Bytes::new()),
        };
        let req = Request::builder()
            .method(method)
            .uri(v["request_target_on_wire"].as_str().unwrap())
            .header("Host", "pbx.example.wildixin.com")
            .header("X-APP-ID", config["app_id"].as_str().unwrap())
            .header("Authorization", v["authorization"].as_str().unwrap())
            .header("Content-Type", content_type)
            .body(body.clone())
            .unwrap();

        let seen = send(verifier_at(now), req).await;
        assert_eq!(seen.status, 200, "{name}: {}", seen.text);
        assert!(
            seen.text.starts_with("s2s-app-id-123|CRM Connector|"),
            "{name}: {}",
            seen.text
        );
        assert_eq!(
            seen.body, body,
            "{name}: the inner service gets the body intact"
        );

        // Five minutes later plus the leeway, the same request is refused as expired.
        let mut late = Request::builder()
            .method(method)
            .uri(v["request_target_on_wire"].as_str().unwrap())
            .header("Host", "pbx.example.wildixin.com")
            .header("X-APP-ID", config["app_id"].as_str().unwrap())
            .header("Authorization", v["authorization"].as_str().unwrap());
        if v.get("body_on_wire").is_some() {
            late = late.header("Content-Type", "application/x-www-form-urlencoded");
        }
        let seen = send(verifier_at(now + 300 + 61), late.body(body).unwrap()).await;
        assert_eq!(seen.status, 401, "{name}");
        assert_eq!(
            seen.text, r#"{"type":"error","reason":"expired"}"#,
            "{name}"
        );
    }
}
