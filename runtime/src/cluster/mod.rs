//! Clustering (CLUSTERING.md): the consistent-hash ring that decides which node owns
//! which target. Gossip membership arrives with the clustering work; the ring and the
//! target key are here first because they must be bit-compatible with upstream.

pub mod ring;

pub use ring::{target_key, Ring};
