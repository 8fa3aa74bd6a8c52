//! The Vigie collector.
