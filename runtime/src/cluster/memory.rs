//! An in-memory network for gossip scenario tests: a packet goes straight into the
//! receiving node's inbox, so tests run on a paused clock with no sockets. Nodes can
//! be detached (as by `kill -9`) and links cut.

use super::gossip::{GossipMembership, PacketTransport};
use super::membership::Membership;
use crate::component::BoxFuture;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};

/// The network; clones share it.
#[derive(Clone, Default)]
pub struct MemoryNetwork {
    state: Arc<Mutex<NetState>>,
}

#[derive(Default)]
struct NetState {
    nodes: HashMap<SocketAddr, Weak<GossipMembership>>,
    /// Unordered pairs that cannot talk.
    cut: HashSet<(SocketAddr, SocketAddr)>,
}

impl MemoryNetwork {
    pub fn new() -> MemoryNetwork {
        MemoryNetwork::default()
    }

    /// The transport of the node at `from`.
    pub fn transport(&self, from: SocketAddr) -> Arc<dyn PacketTransport> {
        Arc::new(MemoryTransport {
            net: self.clone(),
            from,
        })
    }

    /// Makes `node` reachable at `addr`.
    pub fn attach(&self, addr: SocketAddr, node: &Arc<GossipMembership>) {
        self.lock().nodes.insert(addr, Arc::downgrade(node));
    }

    /// Takes the node at `addr` off the network: it neither sends nor receives, as
    /// after `kill -9`.
    pub fn detach(&self, addr: SocketAddr) {
        self.lock().nodes.remove(&addr);
    }

    /// Stops `a` and `b` from reaching each other.
    pub fn cut(&self, a: SocketAddr, b: SocketAddr) {
        self.lock().cut.insert(pair(a, b));
    }

    /// Undoes [`MemoryNetwork::cut`].
    pub fn heal(&self, a: SocketAddr, b: SocketAddr) {
        self.lock().cut.remove(&pair(a, b));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, NetState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn pair(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

struct MemoryTransport {
    net: MemoryNetwork,
    from: SocketAddr,
}

impl PacketTransport for MemoryTransport {
    fn send(&self, to: SocketAddr, packet: Vec<u8>) -> BoxFuture<Result<(), String>> {
        let result = {
            let state = self.net.lock();
            let reachable =
                state.nodes.contains_key(&self.from) && !state.cut.contains(&pair(self.from, to));
            match state.nodes.get(&to).and_then(Weak::upgrade) {
                Some(node) if reachable => {
                    node.receive(packet);
                    Ok(())
                }
                _ => Err(format!("{to} is unreachable")),
            }
        };
        Box::pin(async move { result })
    }
}
