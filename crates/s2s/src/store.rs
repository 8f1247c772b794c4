//! Where the verifier finds an app's name and secret by its `X-APP-ID`.
//!
//! ```
//! use tower_authn_s2s::{App, AppStore, MemoryAppStore};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let apps = MemoryAppStore::new();
//! apps.insert("s2s-app-id-123", App::new("CRM Connector", "s3cr3t-k3y-0123456789abcdef"));
//! let app = apps.find_app("s2s-app-id-123").await.unwrap().unwrap();
//! assert_eq!(app.name(), "CRM Connector");
//! assert!(apps.find_app("nope").await.unwrap().is_none());
//! // Debug never shows the secret.
//! assert!(!format!("{app:?}").contains("s3cr3t"));
//! # }
//! ```

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, ready};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use secrecy::{ExposeSecret, SecretString};
use tower_authn_core::StoreError;

/// An app allowed to sign requests: its name (the `iss` claim) and its shared secret.
#[derive(Clone)]
pub struct App {
    name: String,
    secret: SecretString,
}

impl App {
    /// An app named `name` with `secret`. Both are trimmed, as the reference client trims them.
    pub fn new(name: impl Into<String>, secret: impl Into<String>) -> Self {
        let secret: String = secret.into();
        Self {
            name: name.into().trim().to_owned(),
            secret: SecretString::from(secret.trim().to_owned()),
        }
    }

    /// The app name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The HMAC key: the raw bytes of the secret.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    pub(crate) fn key(&self) -> &[u8] {
        self.secret.expose_secret().as_bytes()
    }
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("name", &self.name)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// Looks apps up by id. Async, so a database or a remote registry can back it.
///
/// `Ok(None)` is an unknown app (401); `Err` is a store that cannot answer (503, fail closed).
///
/// Boxed futures, like every store trait of tower-authn (`UserStore`, `KeyStore`,
/// `AttemptStore`).
pub trait AppStore: Send + Sync + 'static {
    /// The app with id `app_id`.
    fn find_app<'a>(&'a self, app_id: &'a str) -> BoxFuture<'a, Result<Option<App>, StoreError>>;
}

impl<T: AppStore + ?Sized> AppStore for Arc<T> {
    fn find_app<'a>(&'a self, app_id: &'a str) -> BoxFuture<'a, Result<Option<App>, StoreError>> {
        (**self).find_app(app_id)
    }
}

/// An in-memory [`AppStore`]; clones share the same apps.
#[derive(Clone, Default)]
pub struct MemoryAppStore {
    apps: Arc<RwLock<HashMap<String, App>>>,
}

impl MemoryAppStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the app `app_id`.
    pub fn insert(&self, app_id: impl Into<String>, app: App) {
        let mut apps = self.apps.write().unwrap_or_else(|e| e.into_inner());
        apps.insert(app_id.into().trim().to_owned(), app);
    }

    /// Builder form of [`MemoryAppStore::insert`].
    pub fn with_app(self, app_id: impl Into<String>, app: App) -> Self {
        self.insert(app_id, app);
        self
    }

    /// Removes the app `app_id`; returns whether it was there.
    pub fn remove(&self, app_id: &str) -> bool {
        let mut apps = self.apps.write().unwrap_or_else(|e| e.into_inner());
        apps.remove(app_id).is_some()
    }
}

impl fmt::Debug for MemoryAppStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("MemoryAppStore")
            .field("apps", &apps.len())
            .finish()
    }
}

impl AppStore for MemoryAppStore {
    fn find_app<'a>(&'a self, app_id: &'a str) -> BoxFuture<'a, Result<Option<App>, StoreError>> {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        ready(Ok(apps.get(app_id).cloned())).boxed()
    }
}
