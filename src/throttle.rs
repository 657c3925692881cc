//! Login flood limits (security cases A4, A8, and the rate-limit half of
//! C3): every `GET /auth/login` parks a pending login in the store for ten
//! minutes, so an unbounded stream of them fills Redis and, under an
//! evicting policy, pushes out live sessions.
//!
//! - **Per client address** (GCRA token buckets, `governor`): at most
//!   `BFF_LOGIN_RATE` logins and callbacks a second with bursts of
//!   `BFF_LOGIN_BURST`. The address is the one resolved through
//!   `BFF_TRUSTED_PROXIES` (the peer itself behind an untrusted one).
//! - **Per browser** (its login-binding cookie): at most
//!   [`PENDING_PER_BROWSER`] logins started in ten minutes, the lifetime of
//!   a pending login.
//!
//! Both are per process: with N pods behind a load balancer a client gets
//! up to N times the rate. Beyond a limit the answer is 429 with
//! `Retry-After` (RFC 6585 §4).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Logins one browser may have started within ten minutes.
pub(crate) const PENDING_PER_BROWSER: u32 = 10;
/// Checks between sweeps of buckets that are full again (bounded memory).
const SWEEP_EVERY: u64 = 4096;

/// Which limit a request hit, and how long until it may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Throttled {
    /// The client address's bucket is empty.
    Client(Duration),
    /// This browser started too many logins.
    Browser(Duration),
}

/// The per-process login limits.
pub(crate) struct LoginThrottle {
    per_client: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_browser: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    checks: AtomicU64,
}

// === impl LoginThrottle ===

impl LoginThrottle {
    /// `rate` requests a second per client address with bursts of `burst`;
    /// a `rate` of 0 turns the per-client limit off.
    pub(crate) fn new(rate: u32, burst: u32) -> Self {
        let per_client = NonZeroU32::new(rate).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        let browser_burst = NonZeroU32::new(PENDING_PER_BROWSER).unwrap_or(NonZeroU32::MIN);
        // One more login a minute: ten per ten minutes.
        let browser = Quota::per_minute(NonZeroU32::MIN).allow_burst(browser_burst);
        Self {
            per_client,
            per_browser: RateLimiter::keyed(browser),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one token for `client`, and for the browser whose binding
    /// cookie hashes to `browser` if it already has one.
    pub(crate) fn check(&self, client: IpAddr, browser: Option<&str>) -> Result<(), Throttled> {
        self.sweep_now_and_then();
        if let Some(limiter) = &self.per_client {
            limiter
                .check_key(&client)
                .map_err(|no| Throttled::Client(self.wait(&no)))?;
        }
        if let Some(browser) = browser {
            let key = browser.to_owned();
            self.per_browser
                .check_key(&key)
                .map_err(|no| Throttled::Browser(self.wait(&no)))?;
        }
        Ok(())
    }

    fn wait(
        &self,
        not_until: &governor::NotUntil<<DefaultClock as governor::clock::Clock>::Instant>,
    ) -> Duration {
        not_until.wait_time_from(self.clock.now())
    }

    /// Drops buckets that have refilled, so memory stays bounded by the
    /// clients of the last few seconds.
    fn sweep_now_and_then(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            if let Some(limiter) = &self.per_client {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            self.per_browser.retain_recent();
            self.per_browser.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a8_a_client_gets_its_burst_then_waits_and_others_are_unaffected() {
        let throttle = LoginThrottle::new(1, 5);
        for _ in 0..5 {
            assert_eq!(throttle.check(ip("192.0.2.1"), None), Ok(()));
        }
        let Err(Throttled::Client(wait)) = throttle.check(ip("192.0.2.1"), None) else {
            panic!("the burst was exceeded without a limit");
        };
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(
            throttle.check(ip("192.0.2.2"), None),
            Ok(()),
            "another client was limited"
        );
    }

    #[test]
    fn a8_one_browser_may_have_ten_pending_logins() {
        let throttle = LoginThrottle::new(0, 0);
        for n in 0..PENDING_PER_BROWSER {
            assert_eq!(
                throttle.check(ip("192.0.2.1"), Some("b")),
                Ok(()),
                "login {n}"
            );
        }
        let result = throttle.check(ip("192.0.2.1"), Some("b"));
        assert!(matches!(result, Err(Throttled::Browser(w)) if w <= Duration::from_secs(60)));
        assert_eq!(throttle.check(ip("192.0.2.1"), Some("other")), Ok(()));
        assert_eq!(
            throttle.check(ip("192.0.2.1"), None),
            Ok(()),
            "rate 0 is off"
        );
    }
}
