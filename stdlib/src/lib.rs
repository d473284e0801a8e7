//! The Alloy standard library (LANGUAGE.md §5): namespaces as object values of functions.
