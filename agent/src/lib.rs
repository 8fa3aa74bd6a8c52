//! The Vigie agent.
