//! The `Membership` trait: who is alive and in which state. The cluster service only
//! talks to this trait, so the gossip library can be swapped; [`LocalMembership`] is
//! the one-node cluster of a node without `--cluster.enabled`.

use super::peer::{Peer, PeerState, TransitionError};
use crate::component::BoxFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// Live membership of the cluster, as seen from this node.
pub trait Membership: Send + Sync + 'static {
    /// The live peers, this node included. A new value is sent only when the list
    /// differs from the previous one.
    fn peers(&self) -> watch::Receiver<Vec<Peer>>;

    /// Changes this node's state, taking effect for ownership at `effective_ms` on the
    /// cluster clock, and tells the cluster; only ckit's two transitions are allowed.
    /// Once the future resolves, [`Membership::peers`] shows the new state.
    fn set_state(
        &self,
        state: PeerState,
        effective_ms: u64,
    ) -> BoxFuture<Result<(), TransitionError>>;

    /// Publishes the hash of this node's loaded configuration to the cluster. Does
    /// not wait: module content arrives from synchronous code. The latest hash set is
    /// never dropped, however many come at once.
    fn set_config_hash(&self, hash: String);

    /// Asks the nodes at `addrs` (HTTP addresses) to let this node in. Returns how many
    /// could be reached; reaching none is not an error, the node then forms its own
    /// cluster.
    fn join(&self, addrs: Vec<SocketAddr>) -> BoxFuture<usize>;

    /// Tells the cluster this node is leaving, and stops gossiping. Bounded in time.
    fn leave(&self) -> BoxFuture<()>;

    /// Hands over a gossip packet that arrived over HTTP.
    fn receive(&self, packet: Vec<u8>);
}

/// The membership of a node that is not clustered: itself, nothing else.
pub struct LocalMembership {
    peers: watch::Sender<Vec<Peer>>,
}

impl LocalMembership {
    pub fn new(name: &str, addr: &str) -> Arc<LocalMembership> {
        let me = Peer {
            name: name.to_string(),
            addr: addr.to_string(),
            state: PeerState::Viewer,
            is_self: true,
            ..Peer::default()
        };
        Arc::new(LocalMembership {
            peers: watch::Sender::new(vec![me]),
        })
    }
}

impl Membership for LocalMembership {
    fn peers(&self) -> watch::Receiver<Vec<Peer>> {
        self.peers.subscribe()
    }

    fn set_state(
        &self,
        state: PeerState,
        effective_ms: u64,
    ) -> BoxFuture<Result<(), TransitionError>> {
        let mut result = Ok(());
        self.peers.send_modify(|peers| {
            let me = &mut peers[0];
            result = me.state.check_transition(state);
            if result.is_ok() {
                me.state = state;
                me.effective_ms = effective_ms;
            }
        });
        Box::pin(async move { result })
    }

    fn set_config_hash(&self, hash: String) {
        self.peers.send_if_modified(|peers| {
            let changed = peers[0].config_hash != hash;
            peers[0].config_hash = hash;
            changed
        });
    }

    fn join(&self, _addrs: Vec<SocketAddr>) -> BoxFuture<usize> {
        Box::pin(async { 0 })
    }

    fn leave(&self) -> BoxFuture<()> {
        Box::pin(async {})
    }

    fn receive(&self, _packet: Vec<u8>) {}
}
