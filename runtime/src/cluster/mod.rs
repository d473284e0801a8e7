//! Clustering (CLUSTERING.md): nodes running the same config split the work among
//! themselves with no coordinator.
//!
//! Where to start reading: [`Cluster`] is the handle components and the HTTP server
//! use (`is_local`, `subscribe`, `peers`). It feeds a [`ClusterView`] (the peers, the
//! read and read-write [`Ring`]s, wait-for-size [`Admission`]) from a [`Membership`]:
//! [`GossipMembership`] (SWIM over HTTP POSTs on the ordinary HTTP port) when
//! clustering is enabled, [`LocalMembership`] (this node alone) otherwise.

pub mod admission;
pub mod api;
pub mod clock;
pub mod discovery;
pub mod gossip;
pub mod membership;
pub mod memory;
pub mod peer;
pub mod ring;
pub mod service;
pub mod transport_tls;
pub mod view;

pub use admission::{Admission, Readiness};
pub use gossip::GossipMembership;
pub use membership::{LocalMembership, Membership};
pub use peer::{Peer, PeerState, TransitionError};
pub use ring::{target_key, Ring};
pub use service::{
    Cluster, ClusterOptions, Explanation, ModuleHashGuard, SkippedPeer, HANDOFF_MARGIN,
};
pub use transport_tls::GossipTls;
pub use view::{ClusterView, Op};
