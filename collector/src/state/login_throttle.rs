//! Failed logins to the web view per source address, in memory.
//!
//! After [`MAX_FAILURES`] failed logins from one address within [`WINDOW`] of the first,
//! every login from that address is refused (429 with `Retry-After`) until the window ends,
//! a correct token included: answering a right guess during the lockout would let the
//! guessing go on unthrottled. A person who mistyped waits at most a minute.
//!
//! IPv6 addresses count per /64, the block one subscriber usually holds, so that one client
//! cannot take a fresh address for every guess. Behind a reverse proxy every address is the
//! proxy's: the collector does not read `X-Forwarded-For`, so the proxy should throttle.
//!
//! The table is bounded ([`MAX_ADDRESSES`]): when it is full, windows that have ended are
//! forgotten, then the oldest window. A flood from more addresses than that within a minute
//! is then not throttled per address, but tokens are 256-bit random values: the throttle
//! keeps guessing noisy and slow, it is not what makes a token unguessable.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::source::source_key;

/// Failed logins allowed per address within [`WINDOW`]; the next attempt is refused.
pub const MAX_FAILURES: u32 = 5;

/// How long failures are counted from the first one, and how long a lockout lasts at most.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Addresses (or IPv6 /64 blocks) tracked at most.
const MAX_ADDRESSES: usize = 10_000;

/// Failed logins per source address; see the module documentation.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    windows: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl Window {
    fn ended(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.started) >= WINDOW
    }
}

impl LoginThrottle {
    /// `Err(wait)` if `address` is locked out at `now`, with how long until it may try again.
    pub fn check(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match windows.get(&source_key(address)) {
            Some(window) if !window.ended(now) && window.failures >= MAX_FAILURES => {
                Err(WINDOW.saturating_sub(now.saturating_duration_since(window.started)))
            }
            _ => Ok(()),
        }
    }

    /// Counts one failed login from `address` at `now`; true if it is the one that locks the
    /// address out (so that the caller logs the lockout once).
    pub fn fail(&self, address: IpAddr, now: Instant) -> bool {
        let key = source_key(address);
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= MAX_ADDRESSES && !windows.contains_key(&key) {
            windows.retain(|_, w| !w.ended(now));
            if windows.len() >= MAX_ADDRESSES {
                if let Some(oldest) = windows
                    .iter()
                    .min_by_key(|(_, w)| w.started)
                    .map(|(k, _)| *k)
                {
                    windows.remove(&oldest);
                }
            }
        }
        let window = windows.entry(key).or_insert(Window {
            started: now,
            failures: 0,
        });
        if window.ended(now) {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
        window.failures == MAX_FAILURES
    }

    /// Addresses tracked now (for tests).
    pub fn tracked(&self) -> usize {
        self.windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn five_failures_lock_the_address_for_the_rest_of_the_window() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for n in 1..=MAX_FAILURES {
            assert_eq!(throttle.check(v4(1), start), Ok(()));
            assert_eq!(throttle.fail(v4(1), start), n == MAX_FAILURES);
        }
        let later = start + Duration::from_secs(20);
        assert_eq!(throttle.check(v4(1), later), Err(Duration::from_secs(40)));
        assert_eq!(throttle.check(v4(2), later), Ok(()), "another address");
        assert_eq!(throttle.check(v4(1), start + WINDOW), Ok(()), "window over");
        assert!(
            !throttle.fail(v4(1), start + WINDOW),
            "a new window counts anew"
        );
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for n in 0..MAX_FAILURES {
            let address: IpAddr = format!("2001:db8:1:2::{n:x}").parse().unwrap();
            throttle.fail(address, now);
        }
        let same_64: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(throttle.check(same_64, now).is_err());
        assert_eq!(throttle.check(other_64, now), Ok(()));
        for _ in 0..MAX_FAILURES {
            throttle.fail(v4(7), now);
        }
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert!(throttle.check(mapped, now).is_err());
    }

    #[test]
    fn the_table_never_grows_past_its_bound() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for n in 0..(MAX_ADDRESSES as u32 + 500) {
            throttle.fail(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)), now);
        }
        assert_eq!(throttle.tracked(), MAX_ADDRESSES);
        // Windows that have ended make room first.
        throttle.fail(v4(9), now + WINDOW);
        assert_eq!(throttle.tracked(), 1);
    }
}
