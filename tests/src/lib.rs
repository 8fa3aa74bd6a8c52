//! The loopback lab used by the end-to-end tests and the demo.
