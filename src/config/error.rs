//! `ConfigError`: which setting is wrong, and what is wrong with it
//! (never the secret value).

/// A configuration error: which setting, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ConfigError {
    /// The environment name of the setting, e.g. `BFF_PUBLIC_URL`.
    pub setting: &'static str,
    /// What is wrong, without the secret value.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(setting: &'static str, message: impl Into<String>) -> Self {
        Self {
            setting,
            message: message.into(),
        }
    }
}
