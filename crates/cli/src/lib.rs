#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! - [`config_file`]: the TOML file `GATEWAY_CONFIG` names (users, app keys, device tokens,
//!   server-to-server apps, routes), parsed and validated with errors that name the file, the
//!   line and the field.

pub mod config_file;
