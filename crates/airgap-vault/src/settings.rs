//! Settings: small typed values by name, as JSON inside data-key records. The store key is
//! a keyed hash of the name (HKDF under a key derived from the data key), so setting names
//! do not appear in the database either.

use hkdf::Hkdf;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::VaultError;
use crate::vault::Vault;

pub const TREE_SETTINGS: &str = "settings";

#[derive(Serialize, Deserialize)]
struct SettingRecord {
    name: String,
    value: serde_json::Value,
}

impl Vault {
    fn setting_key(&self, name: &str) -> Result<[u8; 16], VaultError> {
        self.shared.with_secrets(|s| {
            let mut key = [0u8; 16];
            Hkdf::<Sha256>::from_prk(s.settings_key.as_ref())
                .expect("a 32-byte PRK is valid for HKDF-SHA256")
                .expand(name.as_bytes(), &mut key)
                .expect("16 bytes is a valid HKDF-SHA256 output length");
            Ok(key)
        })
    }

    /// Store a setting (unlocked only).
    pub fn set_setting<T: Serialize>(&self, name: &str, value: &T) -> Result<(), VaultError> {
        let key = self.setting_key(name)?;
        let value = serde_json::to_value(value).map_err(|e| VaultError::Setting {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
        self.shared.put_json(
            TREE_SETTINGS,
            &key,
            &SettingRecord {
                name: name.to_owned(),
                value,
            },
        )?;
        self.shared.store.flush()?;
        Ok(())
    }

    /// Read a setting (unlocked only); `None` when never set.
    pub fn setting<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, VaultError> {
        let key = self.setting_key(name)?;
        let Some(record) = self.shared.get_json::<SettingRecord>(TREE_SETTINGS, &key)? else {
            return Ok(None);
        };
        if record.name != name {
            return Err(VaultError::corrupt(TREE_SETTINGS, &key));
        }
        serde_json::from_value(record.value)
            .map(Some)
            .map_err(|e| VaultError::Setting {
                name: name.to_owned(),
                reason: e.to_string(),
            })
    }

    pub fn remove_setting(&self, name: &str) -> Result<(), VaultError> {
        let key = self.setting_key(name)?;
        self.shared.store.remove(TREE_SETTINGS, &key)?;
        self.shared.store.flush()?;
        Ok(())
    }
}
