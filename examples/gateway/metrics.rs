//! `GATEWAY_METRICS_ADDR` (GATEWAY.md "Metrics"): the Prometheus recorder behind the
//! `metrics` facade, and the router of the second listener, `GET /metrics` in the Prometheus
//! text format (`tower_authn::metrics` lists what is recorded; no label holds a credential
//! or an identity). The exporter has no listener of its own: the gateway's bounded server
//! (`server::serve`) serves this router on its own socket, rendering on each request.

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Installs the Prometheus recorder as the process's global recorder (once per process:
/// a second call fails) and returns its handle.
pub(crate) fn install() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
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
