//! Per-address pacing of connection attempts that adapts to how the address answers.
//!
//! A scan starts every address at the polite interval (10 ms between two attempts by
//! default) and tightens it by a quarter after every attempt answered promptly (a reset or an
//! accept), down to a floor. Any sign of strain undoes that: an answer much slower than the
//! fastest seen doubles the interval, an unanswered attempt (timeout, unreachable) returns it
//! to the polite interval at once. So a host that answers everything at once is scanned as
//! fast as the floor allows, and a host that slows down, rate-limits or drops is never
//! scanned faster than the fixed polite interval would have — the same idea as TCP's
//! congestion control and nmap's timing, reduced to what a connect scan can observe.
//!
//! [`PaceState`] is the pure rule (instants in, instants out); [`Pacer`] adds the lock and
//! the sleep.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// What became of one connection attempt, as pacing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Reset or accepted, after this long.
    Answered(Duration),
    /// No answer in time, or the network said unreachable.
    Unanswered,
}

/// An answer counts as slow when it takes this many times the fastest one seen…
const SLOW_FACTOR: u32 = 10;
/// …and at least this much more than it (so loopback jitter of a few microseconds does not
/// count as strain).
const SLOW_MARGIN: Duration = Duration::from_millis(20);

/// The pacing of one address.
#[derive(Debug, Clone)]
pub struct PaceState {
    /// The polite interval: where pacing starts, its ceiling, and where strain sends it.
    polite: Duration,
    /// The shortest interval pacing may reach; equal to `polite` for fixed pacing.
    floor: Duration,
    interval: Duration,
    next: Instant,
    fastest: Option<Duration>,
    backoffs: u32,
}

impl PaceState {
    /// Pacing that starts at `polite` and may tighten down to `floor` (clamped to at most
    /// `polite`; `floor == polite` gives fixed pacing).
    pub fn new(polite: Duration, floor: Duration, now: Instant) -> PaceState {
        PaceState {
            polite,
            floor: floor.min(polite),
            interval: polite,
            next: now,
            fastest: None,
            backoffs: 0,
        }
    }

    /// Reserves the next slot: when the caller may make its attempt.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        let at = self.next.max(now);
        self.next = at + self.interval;
        at
    }

    /// Learns from one attempt.
    pub fn record(&mut self, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::Unanswered => {
                if self.interval < self.polite {
                    self.backoffs += 1;
                }
                self.interval = self.polite;
                // Slots already handed out at the tight interval stay; the next one waits
                // the full polite interval.
                self.next = self.next.max(now + self.polite);
            }
            Outcome::Answered(took) => {
                let fastest = self.fastest.map_or(took, |fastest| fastest.min(took));
                self.fastest = Some(fastest);
                let slow = took > (fastest * SLOW_FACTOR).max(fastest + SLOW_MARGIN);
                if slow {
                    if self.interval < self.polite {
                        self.backoffs += 1;
                    }
                    self.interval = (self.interval * 2).min(self.polite);
                } else {
                    self.interval = (self.interval * 3 / 4).max(self.floor);
                }
            }
        }
    }

    /// The interval the next reservation will use.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How many times strain made pacing slow down.
    pub fn backoffs(&self) -> u32 {
        self.backoffs
    }
}

/// [`PaceState`] shared by the tasks that scan one address.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<PaceState>,
}

impl Pacer {
    pub fn new(polite: Duration, floor: Duration) -> Pacer {
        Pacer {
            state: Mutex::new(PaceState::new(polite, floor, Instant::now())),
        }
    }

    /// Waits for this task's slot.
    pub async fn wait(&self) {
        let at = {
            let now = Instant::now();
            match self.state.lock() {
                Ok(mut state) => state.reserve(now),
                // A task panicked while holding the lock: keep pacing politely.
                Err(poisoned) => poisoned.into_inner().reserve(now),
            }
        };
        tokio::time::sleep_until(at).await;
    }

    pub fn record(&self, outcome: Outcome) {
        let now = Instant::now();
        match self.state.lock() {
            Ok(mut state) => state.record(outcome, now),
            Err(poisoned) => poisoned.into_inner().record(outcome, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLITE: Duration = Duration::from_millis(10);
    const FLOOR: Duration = Duration::from_micros(100);
    const QUICK: Outcome = Outcome::Answered(Duration::from_micros(80));

    #[test]
    fn slots_are_spaced_by_the_interval() {
        let start = Instant::now();
        let mut pace = PaceState::new(POLITE, FLOOR, start);
        assert_eq!(pace.reserve(start), start);
        assert_eq!(pace.reserve(start), start + POLITE);
        assert_eq!(pace.reserve(start), start + POLITE * 2);
        // A caller arriving after the schedule goes at once.
        let late = start + Duration::from_secs(1);
        assert_eq!(pace.reserve(late), late);
    }

    #[test]
    fn prompt_answers_tighten_down_to_the_floor_and_no_further() {
        let now = Instant::now();
        let mut pace = PaceState::new(POLITE, FLOOR, now);
        pace.record(QUICK, now);
        assert_eq!(pace.interval(), POLITE * 3 / 4);
        for _ in 0..100 {
            pace.record(QUICK, now);
        }
        assert_eq!(pace.interval(), FLOOR);
        assert_eq!(pace.backoffs(), 0);
    }

    #[test]
    fn fixed_pacing_never_tightens() {
        let now = Instant::now();
        let mut pace = PaceState::new(POLITE, POLITE, now);
        for _ in 0..20 {
            pace.record(QUICK, now);
        }
        assert_eq!(pace.interval(), POLITE);
        // A floor above the polite interval is clamped to it.
        let mut pace = PaceState::new(POLITE, POLITE * 5, now);
        pace.record(QUICK, now);
        assert_eq!(pace.interval(), POLITE);
    }

    #[test]
    fn an_unanswered_attempt_returns_to_the_polite_interval_at_once() {
        let now = Instant::now();
        let mut pace = PaceState::new(POLITE, FLOOR, now);
        for _ in 0..100 {
            pace.record(QUICK, now);
        }
        pace.record(Outcome::Unanswered, now);
        assert_eq!(pace.interval(), POLITE);
        assert_eq!(pace.backoffs(), 1);
        // And the next slot is a full polite interval away, not one tight interval.
        assert!(pace.reserve(now) >= now + POLITE);
        // Unanswered while already polite is not counted again.
        pace.record(Outcome::Unanswered, now);
        assert_eq!(pace.backoffs(), 1);
    }

    #[test]
    fn a_slow_answer_doubles_the_interval_up_to_the_polite_one() {
        let now = Instant::now();
        let mut pace = PaceState::new(POLITE, FLOOR, now);
        for _ in 0..100 {
            pace.record(QUICK, now);
        }
        // 80 µs fastest: 30 ms is slow (more than 10× and more than 20 ms above).
        pace.record(Outcome::Answered(Duration::from_millis(30)), now);
        assert_eq!(pace.interval(), FLOOR * 2);
        assert_eq!(pace.backoffs(), 1);
        for _ in 0..20 {
            pace.record(Outcome::Answered(Duration::from_millis(30)), now);
        }
        assert_eq!(pace.interval(), POLITE);
    }

    #[test]
    fn jitter_near_the_fastest_answer_is_not_strain() {
        let now = Instant::now();
        let mut pace = PaceState::new(POLITE, FLOOR, now);
        pace.record(QUICK, now);
        // 5 ms is 60× the fastest but within the 20 ms margin: loopback under load.
        pace.record(Outcome::Answered(Duration::from_millis(5)), now);
        assert_eq!(pace.interval(), POLITE * 3 / 4 * 3 / 4);
        // On a 40 ms path, 100 ms is within 10×.
        let mut wan = PaceState::new(POLITE, FLOOR, now);
        wan.record(Outcome::Answered(Duration::from_millis(40)), now);
        wan.record(Outcome::Answered(Duration::from_millis(100)), now);
        assert_eq!(wan.backoffs(), 0);
        wan.record(Outcome::Answered(Duration::from_millis(500)), now);
        assert_eq!(wan.backoffs(), 1);
    }
}
