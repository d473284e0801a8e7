//! Components and their registry: one file per component, and [`registry::registry`]
//! listing them all for the CLI to hand to the runtime.

pub mod local_file;
pub mod registry;

pub use registry::registry;
