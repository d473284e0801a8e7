//! Components and their registry: one file per component, and [`registry::registry`]
//! listing them all for the CLI to hand to the runtime.

pub mod alloy_seed;
pub mod discovery_file;
pub mod discovery_http;
pub mod discovery_kubernetes;
pub mod discovery_relabel;
pub mod http_client;
pub mod local_file;
pub mod module_file;
pub mod prometheus;
pub mod prometheus_exporter_self;
pub mod prometheus_relabel;
pub mod prometheus_remote_write;
pub mod prometheus_scrape;
pub mod registry;
pub mod remote_http;
pub mod string_source;

pub use registry::registry;
