//! Known traffic through one `HeaderTokenLayer` (accepted, wrong token, missing): the
//! decision metrics counted per (scheme, outcome) by a debugging recorder, the verify time
//! sampled once per verify step, and the `authn` events with their fields; never the token.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::{CompositeKey, MetricKind};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_authn_core::metrics::{REQUESTS_TOTAL, VERIFY_DURATION_SECONDS};
use tower_authn_core::{HeaderTokenLayer, SharedTokenVerifier};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

const TOKEN: &str = "s3rver-token-value";
const WRONG: &str = "wr0ng-token-value";

/// Sends 3 accepted, 2 wrong and 1 missing; returns the statuses.
fn traffic() -> Vec<StatusCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut svc = ServiceBuilder::new()
            .layer(HeaderTokenLayer::new(
                "X-Auth-Token",
                SharedTokenVerifier::new(TOKEN),
            ))
            .service_fn(|_req: Request<()>| async {
                Ok::<_, Infallible>(Response::new(Bytes::from_static(b"ok")))
            });
        let mut statuses = Vec::new();
        for token in [
            Some(TOKEN),
            Some(WRONG),
            Some(TOKEN),
            None,
            Some(WRONG),
            Some(TOKEN),
        ] {
            let mut req = Request::get("/");
            if let Some(t) = token {
                req = req.header("x-auth-token", t);
            }
            let req = req.body(()).expect("request");
            let res = svc
                .ready()
                .await
                .expect("ready")
                .call(req)
                .await
                .expect("infallible");
            statuses.push(res.status());
        }
        statuses
    })
}

fn labels(key: &CompositeKey) -> BTreeMap<String, String> {
    key.key()
        .labels()
        .map(|l| (l.key().to_owned(), l.value().to_owned()))
        .collect()
}

#[test]
fn decisions_are_counted_per_scheme_and_outcome() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let statuses = metrics::with_local_recorder(&recorder, traffic);
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        3,
        "{statuses:?}"
    );

    let mut counters = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let l = labels(&key);
        for v in l.values() {
            assert!(
                !v.contains(TOKEN) && !v.contains(WRONG),
                "a label holds a token: {l:?}"
            );
        }
        match (key.kind(), key.key().name(), value) {
            (MetricKind::Counter, REQUESTS_TOTAL, DebugValue::Counter(n)) => {
                counters.insert((l["scheme"].clone(), l["outcome"].clone()), n);
            }
            (MetricKind::Histogram, VERIFY_DURATION_SECONDS, DebugValue::Histogram(v)) => {
                assert!(v.iter().all(|s| s.0 >= 0.0));
                samples.insert(l["scheme"].clone(), v.len());
            }
            (kind, name, _) => panic!("unexpected metric {kind:?} {name} {l:?}"),
        }
    }
    let expected: BTreeMap<_, _> = [
        (("token".to_owned(), "ok".to_owned()), 3),
        (
            (
                "header:x-auth-token".to_owned(),
                "invalid_credentials".to_owned(),
            ),
            2,
        ),
        (("none".to_owned(), "missing_credentials".to_owned()), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counters, expected);
    // The verify step ran for the five requests with a token, never for the missing one.
    let expected: BTreeMap<_, _> = [
        ("token".to_owned(), 3),
        ("header:x-auth-token".to_owned(), 2),
    ]
    .into_iter()
    .collect();
    assert_eq!(samples, expected);
}

/// Every event: its target, and its fields as text.
type Events = Arc<Mutex<Vec<(String, BTreeMap<String, String>)>>>;

struct Capture(Events);

struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        event.record(&mut fields);
        self.0
            .lock()
            .expect("events")
            .push((event.metadata().target().to_owned(), fields.0));
    }
}

#[test]
fn each_decision_is_an_authn_event_without_the_token() {
    let events = Events::default();
    let subscriber = tracing_subscriber::registry().with(Capture(Arc::clone(&events)));
    tracing::subscriber::with_default(subscriber, traffic);
    let events = events.lock().expect("events");

    for (_, fields) in events.iter() {
        for v in fields.values() {
            assert!(
                !v.contains(TOKEN) && !v.contains(WRONG),
                "a field holds a token: {fields:?}"
            );
        }
    }
    let decisions: Vec<_> = events
        .iter()
        .filter(|(target, _)| target == "authn")
        .map(|(_, f)| f)
        .collect();
    assert_eq!(decisions.len(), 6, "{events:?}");

    let accepted: Vec<_> = decisions.iter().filter(|f| f["outcome"] == "ok").collect();
    assert_eq!(accepted.len(), 3);
    for f in &accepted {
        assert_eq!(f["message"], "authenticated");
        assert_eq!(f["scheme"], "token");
        assert_eq!(f["location"], "header:x-auth-token");
        assert_eq!(f["principal"], "server");
        assert!(f["verify_us"].parse::<u64>().is_ok(), "{f:?}");
    }
    let wrong: Vec<_> = decisions
        .iter()
        .filter(|f| f["outcome"] == "invalid_credentials")
        .collect();
    assert_eq!(wrong.len(), 2);
    for f in &wrong {
        assert_eq!(f["message"], "authentication rejected");
        assert_eq!(f["scheme"], "header:x-auth-token");
        assert_eq!(f["location"], "header:x-auth-token");
        assert!(f["verify_us"].parse::<u64>().is_ok(), "{f:?}");
    }
    let missing: Vec<_> = decisions
        .iter()
        .filter(|f| f["outcome"] == "missing_credentials")
        .collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0]["scheme"], "none");
    assert!(!missing[0].contains_key("verify_us"), "{:?}", missing[0]);
}
