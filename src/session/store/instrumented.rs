//! A [`SessionStore`] decorator that times every operation and counts its
//! failures (`bff_store_operation_duration_seconds{op}`,
//! `bff_store_errors_total{op}`), whatever the backend.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{BoxFuture, Cas, NewSession, SessionStore, StoreError, Swap};
use crate::metrics::StoreMetrics;

/// `inner`, measured.
pub(crate) struct Instrumented {
    inner: Arc<dyn SessionStore>,
    metrics: StoreMetrics,
}

impl Instrumented {
    /// Wraps `inner`.
    pub(crate) fn new(inner: Arc<dyn SessionStore>, metrics: StoreMetrics) -> Self {
        Self { inner, metrics }
    }

    fn timed<'a, T: 'a>(
        &'a self,
        op: &'static str,
        call: impl Future<Output = Result<T, StoreError>> + Send + 'a,
    ) -> BoxFuture<'a, Result<T, StoreError>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = call.await;
            let seconds = started.elapsed().as_secs_f64();
            self.metrics.observe(op, seconds, result.is_err());
            result
        })
    }
}

impl SessionStore for Instrumented {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        self.timed("get", self.inner.get(key))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.timed("put", self.inner.put(key, value, ttl))
    }

    fn take<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        self.timed("take", self.inner.take(key))
    }

    fn put_session<'a>(&'a self, new: NewSession<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        self.timed("put_session", self.inner.put_session(new))
    }

    fn compare_and_swap<'a>(&'a self, swap: Swap<'a>) -> BoxFuture<'a, Result<Cas, StoreError>> {
        self.timed("compare_and_swap", self.inner.compare_and_swap(swap))
    }

    fn remove_session<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.timed("remove_session", self.inner.remove_session(hash))
    }

    fn index_members<'a>(
        &'a self,
        index: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        self.timed("index_members", self.inner.index_members(index))
    }

    fn session_meta<'a>(
        &'a self,
        hashes: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, StoreError>> {
        self.timed("session_meta", self.inner.session_meta(hashes))
    }

    fn estimate_live(&self, lifetime: Duration) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.timed("estimate_live", self.inner.estimate_live(lifetime))
    }

    fn count_sessions(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.timed("count_sessions", self.inner.count_sessions())
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.timed("try_lock", self.inner.try_lock(key, token, lease))
    }

    fn renew_lock<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.timed("renew_lock", self.inner.renew_lock(key, token, lease))
    }

    fn unlock<'a>(&'a self, key: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.timed("unlock", self.inner.unlock(key, token))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.timed("ping", self.inner.ping())
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}
