//! Who gets a connection slot: the global limit (`--max-connections`), the limit per source
//! address (`--max-connections-per-address`), the reserve for health checks, and whether the
//! collector is under pressure.
//!
//! The accept loop takes a slot before it accepts, so that beyond every slot new connections
//! wait in the kernel's backlog; once a connection is accepted its address is counted, and a
//! connection over its address's limit is closed at once and its slot given to the next one.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections beyond `--max-connections` that serve only `/healthz` and `/readyz`: an
/// orchestrator's probes, each on a connection of its own, answered and closed.
pub const HEALTH_RESERVE: usize = 8;

/// The slots of the listener and the connections counted per source address.
#[derive(Debug)]
pub(super) struct Admission {
    normal: Arc<Semaphore>,
    reserve: Arc<Semaphore>,
    max_connections: usize,
    per_address: Option<usize>,
    /// Open connections per address key; an entry exists only while its count is above 0,
    /// so the table never holds more entries than there are open connections.
    addresses: Mutex<HashMap<IpAddr, AddressEntry>>,
}

#[derive(Debug, Default)]
struct AddressEntry {
    open: usize,
    /// Whether reaching the limit was logged since the address's first open connection: one
    /// line per episode, however many connections an address tries.
    logged: bool,
}

/// Which kind of slot a connection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SlotKind {
    /// A slot of `--max-connections`: every route.
    Normal,
    /// A slot of the health reserve: `/healthz` and `/readyz` only, then closed.
    Reserve,
}

/// A slot taken before `accept`, not yet given to a connection.
#[derive(Debug)]
pub(super) struct FreeSlot {
    kind: SlotKind,
    permit: OwnedSemaphorePermit,
}

impl FreeSlot {
    #[cfg(test)]
    fn kind(&self) -> SlotKind {
        self.kind
    }
}

/// A connection's slot and its place in the per-address count, both given back on drop.
#[derive(Debug)]
pub(super) struct Slot {
    kind: SlotKind,
    _permit: OwnedSemaphorePermit,
    address: Option<IpAddr>,
    admission: Arc<Admission>,
}

impl Slot {
    pub(super) fn kind(&self) -> SlotKind {
        self.kind
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(key) = self.address {
            self.admission.release(key);
        }
    }
}

/// Why a connection was refused its slot.
#[derive(Debug)]
pub(super) struct OverAddressLimit {
    /// The slot, for the next connection.
    pub(super) slot: FreeSlot,
}

impl Admission {
    /// `per_address`: `None` for no limit per address.
    pub(super) fn new(max_connections: usize, per_address: Option<usize>) -> Arc<Admission> {
        let max_connections = max_connections.max(1);
        Arc::new(Admission {
            normal: Arc::new(Semaphore::new(max_connections)),
            reserve: Arc::new(Semaphore::new(HEALTH_RESERVE)),
            max_connections,
            per_address: per_address.map(|n| n.max(1)),
            addresses: Mutex::new(HashMap::new()),
        })
    }

    /// A free slot, a normal one if there is one, else one of the reserve.
    pub(super) fn try_slot(&self) -> Option<FreeSlot> {
        if let Ok(permit) = Arc::clone(&self.normal).try_acquire_owned() {
            return Some(FreeSlot {
                kind: SlotKind::Normal,
                permit,
            });
        }
        Arc::clone(&self.reserve)
            .try_acquire_owned()
            .ok()
            .map(|permit| FreeSlot {
                kind: SlotKind::Reserve,
                permit,
            })
    }

    /// Waits until a slot of either kind is free. `None` never happens (the semaphores are
    /// never closed) but is handled as the end of the server.
    pub(super) async fn slot(&self) -> Option<FreeSlot> {
        if let Some(slot) = self.try_slot() {
            return Some(slot);
        }
        let (kind, permit) = tokio::select! {
            permit = Arc::clone(&self.normal).acquire_owned() => (SlotKind::Normal, permit),
            permit = Arc::clone(&self.reserve).acquire_owned() => (SlotKind::Reserve, permit),
        };
        permit.ok().map(|permit| FreeSlot { kind, permit })
    }

    /// Gives `slot` to a connection from `peer`, unless that address has its limit of open
    /// connections. A reserve slot becomes a normal one if one was freed meanwhile.
    pub(super) fn admit(
        self: &Arc<Admission>,
        slot: FreeSlot,
        peer: IpAddr,
    ) -> Result<Slot, OverAddressLimit> {
        let address = match self.per_address {
            None => None,
            Some(limit) => {
                let key = crate::source::source_key(peer);
                let mut table = self.table();
                let entry = table.entry(key).or_default();
                if entry.open >= limit {
                    let first = !entry.logged;
                    entry.logged = true;
                    drop(table);
                    if first {
                        tracing::warn!(
                            address = %key,
                            limit,
                            "connection limit per address reached; more connections from this address are closed at once until some close"
                        );
                    }
                    return Err(OverAddressLimit { slot });
                }
                entry.open += 1;
                Some(key)
            }
        };
        let FreeSlot {
            mut kind,
            mut permit,
        } = slot;
        if kind == SlotKind::Reserve {
            if let Ok(normal) = Arc::clone(&self.normal).try_acquire_owned() {
                kind = SlotKind::Normal;
                permit = normal;
            }
        }
        Ok(Slot {
            kind,
            _permit: permit,
            address,
            admission: Arc::clone(self),
        })
    }

    /// More than half of `--max-connections` are open: idle connections get the short
    /// timeout (see [`super::connection`]).
    pub(super) fn under_pressure(&self) -> bool {
        let open = self
            .max_connections
            .saturating_sub(self.normal.available_permits());
        open * 2 > self.max_connections
    }

    /// Open connections counted per address, and the number of addresses counted (for
    /// tests: the table must empty itself).
    #[cfg(test)]
    fn counted(&self) -> (usize, usize) {
        let table = self.table();
        (table.values().map(|e| e.open).sum(), table.len())
    }

    fn release(&self, key: IpAddr) {
        let mut table = self.table();
        if let Entry::Occupied(mut entry) = table.entry(key) {
            let open = &mut entry.get_mut().open;
            *open = open.saturating_sub(1);
            if *open == 0 {
                entry.remove();
            }
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, AddressEntry>> {
        // The table stays consistent if a holder panicked: every change is one statement.
        self.addresses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_over_its_limit_is_refused_without_taking_a_slot() {
        let admission = Admission::new(10, Some(2));
        let a1 = admission.admit(admission.try_slot().unwrap(), ip("127.0.0.2"));
        let a2 = admission.admit(admission.try_slot().unwrap(), ip("127.0.0.2"));
        let refused = admission
            .admit(admission.try_slot().unwrap(), ip("127.0.0.2"))
            .unwrap_err();
        assert_eq!(
            admission.normal.available_permits(),
            7,
            "held by the refusal"
        );
        // The slot of the refused connection goes to another address.
        let b = admission.admit(refused.slot, ip("127.0.0.1")).unwrap();
        assert_eq!(admission.normal.available_permits(), 7);
        assert_eq!(admission.counted(), (3, 2));
        drop((a1, a2, b));
        assert_eq!(admission.normal.available_permits(), 10);
        assert_eq!(
            admission.counted(),
            (0, 0),
            "entries go when their count is 0"
        );
    }

    #[test]
    fn ipv6_is_counted_by_its_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            crate::source::source_key(ip("2001:db8:1:2:aaaa::1")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            crate::source::source_key(ip("::ffff:192.0.2.7")),
            ip("192.0.2.7")
        );
        let admission = Admission::new(10, Some(1));
        let _one = admission
            .admit(admission.try_slot().unwrap(), ip("2001:db8:1:2::1"))
            .unwrap();
        assert!(admission
            .admit(admission.try_slot().unwrap(), ip("2001:db8:1:2::2"))
            .is_err());
        assert!(admission
            .admit(admission.try_slot().unwrap(), ip("2001:db8:1:3::1"))
            .is_ok());
    }

    #[test]
    fn beyond_the_normal_slots_the_reserve_then_nothing() {
        let admission = Admission::new(2, None);
        let normal: Vec<Slot> = (0..2)
            .map(|_| admission.admit(admission.try_slot().unwrap(), ip("127.0.0.1")))
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(normal.iter().all(|s| s.kind() == SlotKind::Normal));
        assert!(admission.under_pressure());
        let reserve: Vec<FreeSlot> = (0..HEALTH_RESERVE)
            .map(|_| admission.try_slot().unwrap())
            .collect();
        assert!(reserve.iter().all(|s| s.kind() == SlotKind::Reserve));
        assert!(admission.try_slot().is_none(), "every slot is taken");
        // A reserve slot taken while a normal one frees becomes normal.
        drop(normal);
        let mut reserve = reserve.into_iter();
        let upgraded = admission
            .admit(reserve.next().unwrap(), ip("127.0.0.1"))
            .unwrap();
        assert_eq!(upgraded.kind(), SlotKind::Normal);
        assert!(!admission.under_pressure(), "1 of 2 is not more than half");
    }
}
