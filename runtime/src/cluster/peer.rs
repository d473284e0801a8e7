//! Peers and their states (CLUSTERING.md §3): viewer → participant → terminating, the
//! only two legal transitions, and which ring each state belongs to.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a node is doing in the cluster. The order is the order of the lifecycle, so a
/// later state always outranks an earlier one when two claims about a node meet.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub enum PeerState {
    /// Has a read-only view of the cluster and never owns work. Every node starts here.
    #[default]
    Viewer,
    /// Takes work: in the read and the read-write ring.
    Participant,
    /// Shutting down: still in the read ring, no longer in the read-write ring.
    Terminating,
}

impl PeerState {
    /// The name upstream prints (metrics labels, the peers API).
    pub fn as_str(self) -> &'static str {
        match self {
            PeerState::Viewer => "viewer",
            PeerState::Participant => "participant",
            PeerState::Terminating => "terminating",
        }
    }

    pub const ALL: [PeerState; 3] = [
        PeerState::Viewer,
        PeerState::Participant,
        PeerState::Terminating,
    ];

    /// Checks that `self → to` is one of ckit's two legal transitions.
    pub fn check_transition(self, to: PeerState) -> Result<(), TransitionError> {
        match (self, to) {
            (PeerState::Viewer, PeerState::Participant)
            | (PeerState::Participant, PeerState::Terminating) => Ok(()),
            (from, to) => Err(TransitionError { from, to }),
        }
    }

    /// Whether the node owns nothing new but still answers lookups on the read ring.
    pub fn in_read_ring(self) -> bool {
        self != PeerState::Viewer
    }

    /// Whether the node takes new work.
    pub fn in_read_write_ring(self) -> bool {
        self == PeerState::Participant
    }
}

impl fmt::Display for PeerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state change ckit would refuse; the text is upstream's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid transition from {from} to {to}")]
pub struct TransitionError {
    pub from: PeerState,
    pub to: PeerState,
}

/// A live member of the cluster as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Peer {
    /// `--cluster.node-name`, unique in the cluster and the ring's node identity.
    pub name: String,
    /// The advertised HTTP `host:port` other nodes reach it on.
    pub addr: String,
    pub state: PeerState,
    /// Whether this is the local node.
    pub is_self: bool,
    /// When `state` takes effect for ownership, in cluster-clock milliseconds since the
    /// Unix epoch (see [`super::clock`]): a new participant owns targets from this
    /// instant on, a terminating node keeps its targets until it. `0` is "always".
    /// Every node reads the same value from gossip, which is what lets the two sides
    /// of a handoff agree on the scrape slot without talking.
    pub effective_ms: u64,
    /// The hash of the node's loaded configuration, modules included; empty until
    /// the node has loaded one.
    pub config_hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_forward_transitions_are_legal() {
        use PeerState::*;
        for from in PeerState::ALL {
            for to in PeerState::ALL {
                let legal = matches!(
                    (from, to),
                    (Viewer, Participant) | (Participant, Terminating)
                );
                assert_eq!(from.check_transition(to).is_ok(), legal, "{from} → {to}");
            }
        }
        assert_eq!(
            Viewer
                .check_transition(Terminating)
                .unwrap_err()
                .to_string(),
            "invalid transition from viewer to terminating"
        );
    }
}
