//! Vigie probes and their pure evaluation.
