//! axum glue for tower-authn.
//!
//! Enabling this crate makes [`Principal`] an axum extractor (401 when absent) and
//! `Option<Principal>` an optional one (for routes behind an `optional()` auth layer).
//!
//! ```
//! use tower_authn_axum::Principal;
//!
//! async fn whoami(principal: Principal) -> String {
//!     principal.id
//! }
//!
//! async fn hello(principal: Option<Principal>) -> String {
//!     match principal {
//!         Some(p) => format!("hello {}", p.id),
//!         None => "hello stranger".to_owned(),
//!     }
//! }
//! # let _ = (whoami, hello);
//! ```

pub use tower_authn_core::Principal;
