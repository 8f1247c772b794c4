//! `GATEWAY_METRICS_ADDR` (GATEWAY.md "Metrics"): the Prometheus recorder behind the
//! `metrics` facade, and the router of the second listener, `GET /metrics` in the Prometheus
//! text format (`tower_authn::metrics` lists what is recorded; no label holds a credential
//! or an identity). The exporter has no listener of its own: the gateway's bounded server
//! (`server::serve`) serves this router on its own socket, rendering on each request.

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The verify-time buckets, in seconds: a shared token or a cached key answers in
/// microseconds, an argon2 check or a remote key set in tens or hundreds of milliseconds.
const VERIFY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
];

/// Installs the Prometheus recorder as the process's global recorder (once per process:
/// a second call fails) and returns its handle. The verify time is a Prometheus histogram
/// (buckets, aggregatable across instances), not a summary.
pub(crate) fn install() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(tower_authn::metrics::VERIFY_DURATION_SECONDS.to_owned()),
            VERIFY_BUCKETS,
        )
        .map_err(|e| format!("the verify-time buckets: {e}"))?
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))
}

/// `GET /metrics`: what `handle` has recorded, in the Prometheus text format.
pub(crate) fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
            }
        }),
    )
}
