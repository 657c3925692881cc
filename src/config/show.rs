//! How a setting's effective value may be printed, decided by its type:
//! plain values through [`Show`], secrets only through [`Redact`]
//! (`<redacted>`). No secret type implements `Show`, so printing a secret
//! in clear does not compile.

use std::net::SocketAddr;
use std::time::Duration;

use super::model::LogFormat;
use super::parse::Cidr;
use super::secret::Secret;
use crate::crypto::Keyring;

/// How a plain (non-secret) effective value is printed; `None` = unset.
/// Deliberately not implemented for [`Secret`] or [`Keyring`].
pub(super) trait Show {
    /// The value as `--check-config` prints it.
    fn show(&self) -> Option<String>;
}

/// How a secret's effective value is printed: never the secret itself.
pub(super) trait Redact {
    /// `<redacted>`, perhaps with what is safe to know; `None` = unset.
    fn redacted(&self) -> Option<String>;
}

macro_rules! show_by_display {
    ($($type:ty),+) => {$(
        impl Show for $type {
            fn show(&self) -> Option<String> {
                Some(self.to_string())
            }
        }
    )+};
}

show_by_display!(
    str,
    String,
    bool,
    usize,
    SocketAddr,
    Cidr,
    http::HeaderName,
    u32,
    u64
);

impl<T: Show + ?Sized> Show for &T {
    fn show(&self) -> Option<String> {
        (**self).show()
    }
}

impl<T: Show> Show for Option<T> {
    fn show(&self) -> Option<String> {
        self.as_ref().and_then(Show::show)
    }
}

/// A list, comma-separated as the settings take it.
impl<T: Show> Show for Vec<T> {
    fn show(&self) -> Option<String> {
        Some(
            self.iter()
                .filter_map(Show::show)
                .collect::<Vec<_>>()
                .join(","),
        )
    }
}

/// Whole seconds as `…s`, anything finer as `…ms`.
impl Show for Duration {
    fn show(&self) -> Option<String> {
        Some(if self.subsec_millis() == 0 {
            format!("{}s", self.as_secs())
        } else {
            format!("{}ms", self.as_millis())
        })
    }
}

impl Show for LogFormat {
    fn show(&self) -> Option<String> {
        Some(format!("{self:?}").to_lowercase())
    }
}

impl Redact for Secret {
    fn redacted(&self) -> Option<String> {
        Some("<redacted>".into())
    }
}

impl<T: Redact> Redact for Option<T> {
    fn redacted(&self) -> Option<String> {
        self.as_ref().and_then(Redact::redacted)
    }
}

impl Redact for Keyring {
    fn redacted(&self) -> Option<String> {
        let decrypt_only: Vec<_> = self.decrypt_only_ids().collect();
        let roles = if decrypt_only.is_empty() {
            String::new()
        } else {
            format!(", decrypt-only `{}`", decrypt_only.join("`, `"))
        };
        Some(format!(
            "{} key(s), current id `{}`{roles}, values <redacted>",
            self.len(),
            self.current_id()
        ))
    }
}
