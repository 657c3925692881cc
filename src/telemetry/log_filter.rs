//! Which log lines are written: `RUST_LOG` (default `info`) read once.
//!
//! A list of plain `target=level` directives (the usual `info`,
//! `warn,bff=debug`, `info,bff::access=off`) becomes a [`Targets`]
//! filter. It decides once per callsite and keeps no per-span state,
//! where `EnvFilter` takes two shared read locks on every span enter and
//! exit, looking for span-field directives: a cost on every request at
//! `info`, where every request has a span and two worker threads take
//! the same locks. Directives naming spans or fields (`[`, `{`) need
//! `EnvFilter`, and get it. Invalid directives fall back to `info`, as
//! before.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::Filter;

/// The filter a `RUST_LOG` value asks for.
pub(crate) enum LogFilter {
    /// Plain `target=level` directives.
    Targets(Box<Targets>),
    /// Span or field directives.
    Env(Box<EnvFilter>),
}

impl LogFilter {
    /// Parses `spec` (the value of `RUST_LOG`, if set).
    pub(crate) fn parse(spec: Option<&str>) -> Self {
        let spec = spec.unwrap_or_default().trim();
        if spec.is_empty() {
            return Self::info();
        }
        if !spec.contains(['[', ']', '{', '}']) {
            let directives: Vec<&str> = spec
                .split(',')
                .map(str::trim)
                .filter(|directive| !directive.is_empty())
                .collect();
            return directives.join(",").parse().map_or_else(
                |_invalid| Self::info(),
                |targets| Self::Targets(Box::new(targets)),
            );
        }
        EnvFilter::try_new(spec)
            .map_or_else(|_invalid| Self::info(), |env| Self::Env(Box::new(env)))
    }

    /// The filter of an unset or invalid `RUST_LOG`.
    fn info() -> Self {
        Self::Targets(Box::new(Targets::new().with_default(LevelFilter::INFO)))
    }

    /// The filter as a layer of its own, for the whole subscriber.
    pub(crate) fn layer<S>(self) -> Box<dyn Layer<S> + Send + Sync + 'static>
    where
        S: tracing::Subscriber,
    {
        match self {
            Self::Targets(targets) => Layer::<S>::boxed(*targets),
            Self::Env(env) => Layer::<S>::boxed(*env),
        }
    }

    /// The filter as one type, for one layer.
    pub(crate) fn boxed<S>(self) -> Box<dyn Filter<S> + Send + Sync + 'static>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        match self {
            Self::Targets(targets) => FilterExt::<S>::boxed(*targets),
            Self::Env(env) => FilterExt::<S>::boxed(*env),
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    fn targets(spec: Option<&str>) -> Targets {
        match LogFilter::parse(spec) {
            LogFilter::Targets(targets) => *targets,
            LogFilter::Env(_) => panic!("{spec:?} should be plain target directives"),
        }
    }

    #[test]
    fn unset_empty_or_invalid_is_info() {
        for spec in [None, Some(""), Some("  "), Some("bff=loud"), Some("a=b=c")] {
            let filter = targets(spec);
            assert!(filter.would_enable("bff::access", &Level::INFO), "{spec:?}");
            assert!(
                !filter.would_enable("bff::access", &Level::DEBUG),
                "{spec:?}"
            );
        }
    }

    #[test]
    fn plain_directives_keep_their_meaning() {
        let filter = targets(Some("warn, bff=debug,,bff::access=off"));
        assert!(filter.would_enable("bff::session", &Level::DEBUG));
        assert!(!filter.would_enable("bff::access", &Level::ERROR));
        assert!(filter.would_enable("hyper", &Level::WARN));
        assert!(!filter.would_enable("hyper", &Level::INFO));
        let bare_target = targets(Some("bff"));
        assert!(bare_target.would_enable("bff::proxy", &Level::TRACE));
        assert!(!bare_target.would_enable("redis", &Level::ERROR));
    }

    #[test]
    fn span_and_field_directives_get_env_filter() {
        for spec in [
            "info,[request]=debug",
            "bff[{session}]=debug",
            "[request{id=x}]",
        ] {
            assert!(
                matches!(LogFilter::parse(Some(spec)), LogFilter::Env(_)),
                "{spec}"
            );
        }
        assert!(matches!(
            LogFilter::parse(Some("[request")),
            LogFilter::Targets(_)
        ));
    }
}
