//! The component runtime: turns parsed files into a running graph of components.
//!
//! Invariant: this crate names no concrete component; the CLI hands it a registry.
