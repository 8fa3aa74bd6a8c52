//! The hostile-agent suite: what one enrolled agent token (or a stranger on the network) may
//! try against a real `vigie-collector serve`, each attack kept as a regression test on
//! SQLite and on PostgreSQL. An attack passes when it harms nothing but the attacker's own
//! data and every other organization's view stays whole.
//!
//! Each area of the trust boundary has its own module; they share [`Lab`].

mod lab;

pub use lab::{Backend, Lab};
mod connections;
mod identity;
mod quotas;
mod readers;
mod timestamps;
