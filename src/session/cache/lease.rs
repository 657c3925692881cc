//! The cache's lease: the time until which a hit may be served. The
//! listener grants it from a PONG (`sent + max_staleness`: the PONG follows
//! every invalidation Redis queued before the PING on the same ordered
//! socket), and drops it on any error, silence or reconnect. Each grant is
//! tied to the listener connection's epoch, so a late PONG from a lost
//! connection never revives a dropped lease.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Nanoseconds on the process clock; 0 means "never".
type Nanos = u64;

/// A lease over the cache, renewed by the invalidation listener.
pub(crate) struct Lease {
    /// The process clock's origin.
    origin: Instant,
    /// Hits are allowed while `now < until` (0: no lease).
    until: AtomicU64,
    /// The listener connection the lease belongs to.
    epoch: AtomicU64,
    /// When the last lease was dropped (0: it was not, or was renewed).
    lost_at: AtomicU64,
}

impl Lease {
    /// No lease yet.
    pub(crate) fn new() -> Self {
        Self {
            origin: Instant::now(),
            until: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            lost_at: AtomicU64::new(0),
        }
    }

    /// Now, on the process clock (never 0).
    pub(crate) fn now(&self) -> Nanos {
        self.at(Instant::now())
    }

    /// `instant` on the process clock (never 0).
    pub(crate) fn at(&self, instant: Instant) -> Nanos {
        u64::try_from(instant.saturating_duration_since(self.origin).as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Whether a hit may be served now.
    pub(crate) fn valid(&self) -> bool {
        self.valid_at(self.now())
    }

    /// Whether a hit may be served at `now` (process clock).
    pub(crate) fn valid_at(&self, now: Nanos) -> bool {
        now < self.until.load(Ordering::Acquire)
    }

    /// The current listener connection's epoch.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// A PONG for a PING sent at `sent` arrived on connection `epoch`: hits
    /// are allowed until `sent + max_staleness`. Ignored if the connection
    /// was lost meanwhile.
    pub(crate) fn grant(&self, epoch: u64, sent: Instant, max_staleness: Duration) {
        let until = self.at(sent + max_staleness);
        let mut current = self.until.load(Ordering::Acquire);
        while self.epoch() == epoch && until > current {
            match self
                .until
                .compare_exchange(current, until, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(seen) => current = seen,
            }
        }
        // A drop that raced the grant wins: it bumps the epoch first.
        if self.epoch() != epoch {
            self.until.store(0, Ordering::Release);
        } else {
            self.lost_at.store(0, Ordering::Release);
        }
    }

    /// Drops the lease and starts a new epoch (connection lost, topology
    /// changed); returns the new epoch.
    pub(crate) fn drop_lease(&self) -> u64 {
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        if self.until.swap(0, Ordering::AcqRel) != 0 {
            let _first =
                self.lost_at
                    .compare_exchange(0, self.now(), Ordering::AcqRel, Ordering::Acquire);
        }
        epoch
    }

    /// How long ago the lease was lost, if it is lost (outage grace).
    pub(crate) fn lost_for(&self) -> Option<Duration> {
        let lost_at = self.lost_at.load(Ordering::Acquire);
        (lost_at != 0).then(|| Duration::from_nanos(self.now().saturating_sub(lost_at)))
    }

    /// Age of the lease's last proof, if there is a lease.
    pub(crate) fn age(&self, max_staleness: Duration) -> Option<Duration> {
        let until = self.until.load(Ordering::Acquire);
        let proven = until.checked_sub(u64::try_from(max_staleness.as_nanos()).ok()?)?;
        (until != 0).then(|| Duration::from_nanos(self.now().saturating_sub(proven)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::Lease;

    #[test]
    fn a_lease_lasts_from_the_ping_and_a_drop_outlives_a_late_pong() {
        let lease = Lease::new();
        assert!(!lease.valid());
        let epoch = lease.epoch();
        lease.grant(epoch, Instant::now(), Duration::from_secs(5));
        assert!(lease.valid());
        let sent = Instant::now();
        let next = lease.drop_lease();
        assert!(!lease.valid());
        assert!(lease.lost_for().is_some());
        lease.grant(epoch, sent, Duration::from_secs(5));
        assert!(
            !lease.valid(),
            "a PONG of the lost connection revived the lease"
        );
        lease.grant(next, Instant::now(), Duration::from_secs(5));
        assert!(lease.valid());
        assert!(lease.lost_for().is_none());
        let old = Instant::now().checked_sub(Duration::from_secs(10)).unwrap();
        let stale = lease.drop_lease();
        lease.grant(stale, old, Duration::from_secs(5));
        assert!(
            !lease.valid(),
            "a lease from a PING sent 10 s ago outlived 5 s"
        );
    }
}
