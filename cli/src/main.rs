//! The `ferroalloy` command line.

fn main() {}
