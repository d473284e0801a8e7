//! Components and their registry.
