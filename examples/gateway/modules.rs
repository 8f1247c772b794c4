//! The gateway's modules, declared once: the binary (`main.rs`) and every test that builds a
//! gateway from an explicit configuration include this one file. `demo` is the demo data
//! every example shares (GATEWAY.md's identities).

pub(crate) mod app;
pub(crate) mod browser;
pub(crate) mod config;
// Shared by every example; the gateway uses only part of it.
#[allow(dead_code, unreachable_pub)]
#[path = "../demo/mod.rs"]
pub(crate) mod demo;
pub(crate) mod exchange;
pub(crate) mod fetcher;
pub(crate) mod forward_auth;
pub(crate) mod identities;
pub(crate) mod metrics;
pub(crate) mod server;
