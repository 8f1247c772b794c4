//! `tower-authn-cli`: the `authn` command and the gateway's configuration-file schema.
//!
//! - [`config_file`]: the TOML file `GATEWAY_CONFIG` names (users, app keys, device tokens,
//!   server-to-server apps, routes), parsed and validated with errors that name the file, the
//!   line and the field.
//! - The `authn` binary (see the README): password hashes, HA1Bs, new keys and their digests,
//!   JWTs (mint, inspect, verify), signed server-to-server requests, and `check-config`.

pub mod config_file;
