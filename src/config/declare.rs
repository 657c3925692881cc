//! The `settings!` macro and the types it generates code for. One row per
//! setting (see `settings.rs`) yields:
//!
//! - its clap flag (`--session-ttl`) and `BFF_*` variable in [`Args`](super::Args),
//!   with the row's `///` doc as help;
//! - its TOML key (`session_ttl`) in [`FileConfig`](super::FileConfig);
//! - its merge, flag > env > file > declared default, into `Raw`, where each
//!   value is a [`Value`] that names its setting in errors;
//! - its `--check-config` line, rendered from the validated [`Config`](super::Config)
//!   by the row's `show` expression.
//!
//! A row's kind is `String`, `bool` or `Secret`. A `Secret` is a string whose
//! environment value clap never prints and whose effective value can only be
//! rendered by [`Redact`](super::show::Redact) (`<redacted>`); plain kinds
//! render through [`Show`](super::show::Show), which no secret implements.
//! `file <key> = "<ENV>"` adds the setting's `*_FILE` variant (a path).

use std::time::Duration;

use super::ConfigError;

/// A merged setting value with the environment name of its setting, which
/// every error about the value carries.
pub(super) struct Value<T> {
    /// The setting's environment name, e.g. `BFF_SESSION_TTL`.
    pub(super) env: &'static str,
    /// The value: `Option<T>` unless the setting has a declared default.
    pub(super) value: T,
}

impl<T> Value<T> {
    /// An error about this setting.
    pub(super) fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.env, message)
    }

    /// Parses the value; a failure becomes an error naming this setting.
    pub(super) fn parse<U>(
        &self,
        parse: impl FnOnce(&T) -> Result<U, String>,
    ) -> Result<U, ConfigError> {
        parse(&self.value).map_err(|message| self.error(message))
    }
}

impl Value<String> {
    /// The value as a duration (`60s`, `10m`, `8h`).
    pub(super) fn duration(&self) -> Result<Duration, ConfigError> {
        self.parse(|text| super::parse::duration(text))
    }

    /// A duration of at least 100ms (timeouts and intervals).
    pub(super) fn positive_duration(&self) -> Result<Duration, ConfigError> {
        let value = self.duration()?;
        if value < Duration::from_millis(100) {
            return Err(self.error("must be at least 100ms"));
        }
        Ok(value)
    }
}

/// One setting as the table declares it (for the checks that keep the
/// documentation honest).
#[cfg(test)]
#[derive(Debug)]
pub(super) struct Setting {
    /// TOML key; with `-` for `_`, the flag.
    pub(super) key: &'static str,
    /// Environment name.
    pub(super) env: &'static str,
    /// The `///` doc, one line per doc line.
    pub(super) doc: &'static str,
    /// The declared default as text, if the setting has a static one.
    pub(super) default: Option<&'static str>,
    /// Whether the value is redacted.
    pub(super) secret: bool,
}

/// Declares every setting once; see the module documentation.
macro_rules! settings {
    (@raw Secret) => { String };
    (@raw $kind:ident) => { $kind };
    (@secret Secret) => { true };
    (@secret $kind:ident) => { false };
    (@value $kind:ident, $default:literal) => { settings!(@raw $kind) };
    (@value $kind:ident) => { Option<settings!(@raw $kind)> };
    (@merge bool, $value:expr, $default:literal) => { $value.unwrap_or($default) };
    (@merge $kind:ident, $value:expr, $default:literal) => {
        $value.unwrap_or_else(|| String::from($default))
    };
    (@merge $kind:ident, $value:expr) => { $value };
    (@show Secret, $value:expr) => { $crate::config::show::Redact::redacted(&$value) };
    (@show $kind:ident, $value:expr) => { $crate::config::show::Show::show(&$value) };
    (@default) => { None };
    (@default $default:literal) => { Some(concat!($default)) };
    (@file_doc $env:literal) => { concat!("File holding the value of `", $env, "`") };
    ($(
        $(#[doc = $doc:tt])+
        $(#[arg($($arg:tt)*)])?
        $name:ident: $kind:ident = $env:literal
        $(, default $default:literal)?
        $(, file $file:ident = $file_env:literal)?
        , show |$c:ident| $show:expr;
    )+) => {
        /// Raw settings as given on the command line or in the environment.
        /// Precedence: flag > environment > TOML file (`--config`) > default.
        #[derive(Debug, Clone, Default, clap::Parser)]
        #[command(name = "bff", version, about = "Authentication backend-for-frontend proxy")]
        pub struct Args {
            /// TOML configuration file (routes and any setting below).
            #[arg(long, env = "BFF_CONFIG")]
            pub config: Option<std::path::PathBuf>,
            /// Validate the configuration, print it with secrets redacted, and exit.
            #[arg(long)]
            pub check_config: bool,
            $(
                $(#[doc = $doc])+
                #[arg(long, env = $env, hide_env_values = settings!(@secret $kind) $(, $($arg)*)?)]
                pub $name: Option<settings!(@raw $kind)>,
                $(
                    /// File holding a secret setting's value.
                    #[arg(long, env = $file_env, help = settings!(@file_doc $env))]
                    pub $file: Option<std::path::PathBuf>,
                )?
            )+
            /// Subcommands; without one, bff serves.
            #[command(subcommand)]
            pub command: Option<$crate::config::Command>,
        }

        /// The optional TOML configuration file (`--config`): every setting
        /// under its key, plus the route table, which only the file can
        /// express. Unknown keys are an error so typos are caught at start-up.
        #[derive(Debug, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct FileConfig {
            $(
                $(#[doc = $doc])+
                pub $name: Option<settings!(@raw $kind)>,
                $(
                    /// File holding a secret setting's value.
                    pub $file: Option<std::path::PathBuf>,
                )?
            )+
            /// `[[routes]]`: the route table.
            #[serde(default)]
            pub routes: Vec<$crate::config::FileRoute>,
        }

        /// Every setting after the merge; no `Debug`, it holds raw secrets.
        pub(super) struct Raw {
            $(
                pub(super) $name:
                    $crate::config::declare::Value<settings!(@value $kind $(, $default)?)>,
                $(
                    pub(super) $file:
                        $crate::config::declare::Value<Option<std::path::PathBuf>>,
                )?
            )+
            /// The `[[routes]]` table (file only).
            pub(super) routes: Vec<$crate::config::FileRoute>,
        }

        impl Args {
            /// These flags and variables over `file` over the declared defaults.
            pub(super) fn merge(&self, file: FileConfig) -> Raw {
                Raw {
                    $(
                        $name: $crate::config::declare::Value {
                            env: $env,
                            value: settings!(
                                @merge $kind, self.$name.clone().or(file.$name) $(, $default)?
                            ),
                        },
                        $($file: $crate::config::declare::Value {
                            env: $file_env,
                            value: self.$file.clone().or(file.$file),
                        },)?
                    )+
                    routes: file.routes,
                }
            }
        }

        /// Each setting's key and effective value (`None` = unset), secrets redacted.
        pub(super) fn shown(
            config: &$crate::config::Config,
        ) -> Vec<(&'static str, Option<String>)> {
            vec![$((stringify!($name), {
                let $c = config;
                settings!(@show $kind, $show)
            }),)+]
        }

        /// Every setting, `*_FILE` variants included, in declaration order.
        #[cfg(test)]
        pub(super) const SETTINGS: &[$crate::config::declare::Setting] = &[$(
            $crate::config::declare::Setting {
                key: stringify!($name),
                env: $env,
                doc: concat!($($doc, "\n"),+),
                default: settings!(@default $($default)?),
                secret: settings!(@secret $kind),
            },
            $($crate::config::declare::Setting {
                key: stringify!($file),
                env: $file_env,
                doc: settings!(@file_doc $env),
                default: None,
                secret: false,
            },)?
        )+];
    };
}

pub(super) use settings;
