//! Expression evaluation against a scope (LANGUAGE.md §4, §9).
