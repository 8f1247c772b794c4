//! A circuit breaker for remote identity sources (a JWKS URL, an introspection endpoint,
//! Facebook's Graph API): once the source fails, requests answer 503 at once instead of each
//! waiting for its own timeout; after a back-off (doubling up to a cap) one probe, and only
//! one, is let through; its success closes the circuit, its failure doubles the back-off.
//!
//! Times come from the caller's injectable clock, so tests advance a `ManualClock`.

use std::time::{Duration, SystemTime};

/// When a remote source counts as down, and how long before it is tried again.
///
/// ```
/// use std::time::Duration;
/// use tower_authn_jwt::CircuitConfig;
///
/// let circuit = CircuitConfig::new()
///     .with_failure_threshold(2)
///     .with_initial_backoff(Duration::from_secs(2))
///     .with_max_backoff(Duration::from_secs(120));
/// assert_eq!(circuit.backoff(0), Duration::from_secs(2));
/// assert_eq!(circuit.backoff(3), Duration::from_secs(16));
/// assert_eq!(circuit.backoff(30), Duration::from_secs(120));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CircuitConfig {
    threshold: u32,
    initial: Duration,
    max: Duration,
}

impl Default for CircuitConfig {
    fn default() -> Self {
        Self {
            threshold: 1,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl CircuitConfig {
    /// Defaults: open after one failure, back off 1 s, doubling up to 60 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// Consecutive failures that open the circuit (at least 1).
    #[must_use]
    pub fn with_failure_threshold(mut self, failures: u32) -> Self {
        self.threshold = failures.max(1);
        self
    }

    /// The first back-off after the circuit opens.
    #[must_use]
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial = backoff;
        self
    }

    /// The longest back-off, however many probes failed.
    #[must_use]
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max = backoff;
        self
    }

    /// The back-off after `failed_probes` failed probes: initial x 2^n, capped.
    pub fn backoff(&self, failed_probes: u32) -> Duration {
        let factor = 1u32.checked_shl(failed_probes.min(31)).unwrap_or(u32::MAX);
        self.initial
            .checked_mul(factor)
            .unwrap_or(self.max)
            .min(self.max.max(self.initial))
    }
}

/// What a caller may do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Closed: call the source.
    Call,
    /// Open and the back-off is over: this caller is the one probe.
    Probe,
    /// Open (or a probe is out): answer 503 without calling.
    Refuse,
}

/// The breaker's state. Not locked itself: it lives under its owner's mutex, so admitting
/// and recording are atomic with the owner's other state.
#[derive(Debug, Default)]
pub(crate) struct Breaker {
    config: CircuitConfig,
    failures: u32,
    /// `Some` while open: calls are refused until then.
    open_until: Option<SystemTime>,
    failed_probes: u32,
    probing: bool,
}

impl Breaker {
    pub(crate) fn new(config: CircuitConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    pub(crate) fn config(&self) -> &CircuitConfig {
        &self.config
    }

    /// Whether a call may go out at `now`; `Probe` reserves the single probe slot.
    pub(crate) fn admit(&mut self, now: SystemTime) -> Admit {
        match self.open_until {
            None => Admit::Call,
            Some(until) if now >= until && !self.probing => {
                self.probing = true;
                Admit::Probe
            }
            Some(_) => Admit::Refuse,
        }
    }

    /// Whether the circuit is open at `now` (calls would be refused or probed).
    pub(crate) fn is_open(&self) -> bool {
        self.open_until.is_some()
    }

    /// How long until a probe may go out (zero when one may now; `None` when closed).
    pub(crate) fn retry_in(&self, now: SystemTime) -> Option<Duration> {
        self.open_until
            .map(|until| until.duration_since(now).unwrap_or(Duration::ZERO))
    }

    /// The source answered: close.
    pub(crate) fn success(&mut self) {
        self.failures = 0;
        self.failed_probes = 0;
        self.open_until = None;
        self.probing = false;
    }

    /// The source failed a call admitted as `admit`.
    pub(crate) fn failure(&mut self, admit: Admit, now: SystemTime) {
        match admit {
            Admit::Probe => {
                self.probing = false;
                self.failed_probes = self.failed_probes.saturating_add(1);
                self.open(now);
            }
            // A call let through before the circuit opened: already counted by the opening.
            Admit::Call if self.open_until.is_some() => {}
            Admit::Call => {
                self.failures = self.failures.saturating_add(1);
                if self.failures >= self.config.threshold {
                    self.open(now);
                }
            }
            Admit::Refuse => {}
        }
    }

    /// A probe that ended without telling anything (cancelled, or refused before any call):
    /// the slot is free for the next caller.
    pub(crate) fn release(&mut self, admit: Admit) {
        if admit == Admit::Probe {
            self.probing = false;
        }
    }

    fn open(&mut self, now: SystemTime) {
        let backoff = self.config.backoff(self.failed_probes);
        self.open_until = Some(now.checked_add(backoff).unwrap_or(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn opens_probes_once_backs_off_exponentially_and_closes() {
        let config = CircuitConfig::new()
            .with_initial_backoff(Duration::from_secs(2))
            .with_max_backoff(Duration::from_secs(10));
        let mut b = Breaker::new(config);
        assert_eq!(b.admit(at(0)), Admit::Call);
        b.failure(Admit::Call, at(0));
        assert_eq!(b.admit(at(1)), Admit::Refuse);
        assert_eq!(b.retry_in(at(1)), Some(Duration::from_secs(1)));
        assert_eq!(b.admit(at(2)), Admit::Probe);
        assert_eq!(b.admit(at(2)), Admit::Refuse, "one probe at a time");
        b.failure(Admit::Probe, at(2));
        assert_eq!(
            b.admit(at(5)),
            Admit::Refuse,
            "4 s after the first failed probe"
        );
        assert_eq!(b.admit(at(6)), Admit::Probe);
        b.failure(Admit::Probe, at(6));
        assert_eq!(b.retry_in(at(6)), Some(Duration::from_secs(8)));
        assert_eq!(b.admit(at(14)), Admit::Probe);
        b.failure(Admit::Probe, at(14));
        assert_eq!(b.retry_in(at(14)), Some(Duration::from_secs(10)), "capped");
        assert_eq!(b.admit(at(24)), Admit::Probe);
        b.release(Admit::Probe);
        assert_eq!(
            b.admit(at(24)),
            Admit::Probe,
            "a cancelled probe frees the slot"
        );
        b.success();
        assert_eq!(b.admit(at(24)), Admit::Call);
        assert!(!b.is_open());
    }

    #[test]
    fn threshold_and_late_failures() {
        let mut b = Breaker::new(CircuitConfig::new().with_failure_threshold(3));
        for _ in 0..2 {
            b.failure(Admit::Call, at(0));
            assert_eq!(b.admit(at(0)), Admit::Call);
        }
        b.success();
        for _ in 0..3 {
            b.failure(Admit::Call, at(0));
        }
        assert_eq!(b.admit(at(0)), Admit::Refuse);
        // Calls admitted before the opening and failing after it do not push the back-off.
        b.failure(Admit::Call, at(0));
        assert_eq!(b.retry_in(at(0)), Some(Duration::from_secs(1)));
    }
}
