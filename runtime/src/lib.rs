//! The component runtime: turns parsed files into a running graph of components.
//!
//! Invariant: this crate names no concrete component; the CLI hands it a registry.
//!
//! Layers, bottom up: [`source`] reads and parses a configuration, [`refs`] finds the
//! references in expressions, [`graph`] holds nodes and their dependencies.
//! [`controller`] runs the graph; [`http`] serves readiness, health, reload and
//! [`metrics`] on top of it.

pub mod cluster;
pub mod component;
pub mod config_blocks;
pub mod controller;
pub mod decode;
pub mod duration;
pub mod evaluate;
pub mod graph;
pub mod http;
pub mod livedebug;
pub mod metrics;
pub mod module;
pub mod refs;
pub mod schema;
pub mod source;
pub mod throughput;
pub mod timestamp;
pub mod tls;
pub mod validate;
pub mod watch;
