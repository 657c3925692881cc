//! Loading: reads the TOML file named by `--config`, merges it under the
//! flags and environment, and validates the result into a [`Config`].

use super::error::ConfigError;
use super::model::Config;
use super::settings::{Args, FileConfig};
use super::{redact, validate};

// === impl Config ===

impl Config {
    /// Merges `args` with the TOML file it names (if any) and validates.
    pub fn load(args: &Args) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::new("BFF_CONFIG", format!("cannot read {}: {e}", path.display()))
                })?;
                toml::from_str(&text).map_err(|e| {
                    ConfigError::new("BFF_CONFIG", format!("{}: {}", path.display(), e.message()))
                })?
            }
            None => FileConfig::default(),
        };
        validate::build(&args.merge(file))
    }

    /// The effective configuration as TOML-like text, secrets redacted.
    pub fn redacted(&self) -> String {
        redact::render(self)
    }
}
