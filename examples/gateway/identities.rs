//! Who the gateway knows: the demo identities of GATEWAY.md, or the operator's own from the
//! file `GATEWAY_CONFIG` names (GATEWAY.md "Configuration file"), and which route groups
//! are on.

use std::error::Error;
use std::time::SystemTime;

use secrecy::ExposeSecret;
use tower_authn::Principal;
use tower_authn::ha1b::Ha1bVerifier;
use tower_authn::issue::mask_key;
use tower_authn::memory::KeyKind;
use tower_authn::s2s::{App, MemoryAppStore};
use tower_authn::{KeyRecord, KeyStore, UserRecord};
use tower_authn_cli::config_file::{GatewayFile, Routes};

/// The users, keys, server-to-server apps and route groups one gateway starts with.
#[derive(Debug)]
pub(crate) struct Identities {
    pub(crate) users: Vec<UserRecord>,
    /// Where the keys come from: digests of the file, or the demo's plaintext secrets.
    keys: Keys,
    pub(crate) s2s_apps: MemoryAppStore,
    pub(crate) routes: Routes,
}

#[derive(Debug)]
enum Keys {
    /// The demo: keys digested here, HA1Bs registered from the users' records.
    Demo,
    /// The file's records, digested by `authn` with the gateway's pepper.
    File(Vec<KeyRecord>),
}

impl Identities {
    /// GATEWAY.md's demo identities.
    pub(crate) fn demo() -> Result<Self, Box<dyn Error>> {
        Ok(Self {
            users: super::demo::records()?,
            keys: Keys::Demo,
            s2s_apps: MemoryAppStore::new().with_app(
                "s2s-app-id-123",
                App::new("CRM Connector", "s3cr3t-k3y-0123456789abcdef"),
            ),
            routes: Routes::default(),
        })
    }

    /// The identities of a configuration file.
    pub(crate) fn from_file(file: &GatewayFile) -> Self {
        let now = SystemTime::now();
        let mut keys = file.key_records(now);
        keys.extend(file.ha1b_records(now));
        let s2s_apps = file.s2s_apps.iter().fold(MemoryAppStore::new(), |apps, a| {
            apps.with_app(
                a.id.clone(),
                App::new(a.name.clone(), a.secret.expose_secret()),
            )
        });
        Self {
            users: file.user_records(),
            keys: Keys::File(keys),
            s2s_apps,
            routes: file.routes,
        }
    }

    /// Puts the keys into `keys` (a record already there, by id, is left as it is: a key the
    /// operator rotated in the shared store is not brought back).
    pub(crate) async fn seed_keys<K: KeyStore + Clone>(
        &self,
        keys: &K,
    ) -> Result<(), Box<dyn Error>> {
        let records = match &self.keys {
            Keys::File(records) => records.clone(),
            Keys::Demo => {
                let ha1b = Ha1bVerifier::new(keys.clone());
                for user in &self.users {
                    ha1b.register_user(user).await?;
                }
                demo_keys(keys)
            }
        };
        for record in records {
            if keys.find_by_id(record.kind, &record.id).await?.is_none() {
                keys.put(record).await?;
            }
        }
        Ok(())
    }
}

/// The demo app key `demo-app-key-1` and device token `demo-device-token`.
fn demo_keys<K: KeyStore>(keys: &K) -> Vec<KeyRecord> {
    let hasher = keys.key_hasher();
    let app_key = "demo-app-key-1";
    let app = KeyRecord::new(
        "demo-app-key",
        KeyKind::AppApiKey,
        hasher.digest(app_key),
        Principal::app("demo-app")
            .with_app_id("demo-app")
            .with_scheme("app-api-key"),
        SystemTime::now(),
    )
    .with_hint(mask_key(app_key))
    .with_description("demo key");
    let device = KeyRecord::new(
        "demo-device",
        KeyKind::DeviceToken,
        hasher.digest("demo-device-token"),
        Principal::device("demo-device").with_app_id("demo-app"),
        SystemTime::now(),
    );
    vec![app, device]
}
