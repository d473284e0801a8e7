//! Gossip membership: SWIM (the `foca` crate) with every packet sent as one HTTP POST to
//! the peer's ordinary HTTP port, so `--cluster.join-addresses` and
//! `--cluster.advertise-address` name the HTTP listen address as upstream's do.
//!
//! Why foca and not memberlist: memberlist-net always opens its own UDP socket for
//! packets and its own TCP listener for streams, and running it over the HTTP port
//! needs a whole custom `memberlist_core::Transport` (resolver, packet and stream
//! subscribers, a `Connection` over upgraded HTTP streams). foca is sans-IO: it hands
//! us bytes and a destination, and takes received bytes, which maps one-to-one onto
//! `POST /api/v1/ckit/transport/message`. Neither is wire-compatible with Go memberlist.
//!
//! The node state rides in the SWIM identity: a state change is a new identity for
//! the same address with a higher generation, which foca spreads with its membership
//! updates, so a node that joins late learns every state without extra sync.

use super::membership::Membership;
use super::peer::{Peer, PeerState, TransitionError};
use super::transport_tls::GossipTls;
use crate::component::BoxFuture;
use foca::{AccumulatingRuntime, Config, Foca, Identity, OwnedNotification, PostcardCodec, Timer};
use prometheus_client::metrics::counter::Counter;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

/// Where peers POST gossip packets. Upstream's path, so proxies and network policies
/// written for Alloy let it through; the content type tells the formats apart.
pub const MESSAGE_PATH: &str = "/api/v1/ckit/transport/message";
/// Our packets are foca's, not memberlist's, hence not upstream's `application/x.ckit`:
/// a mixed cluster fails loudly instead of feeding one format to the other's decoder.
pub const CONTENT_TYPE: &str = "application/x.ferroalloy.gossip";
/// Carries `--cluster.name`; a receiver drops packets from another cluster, so nodes
/// with different names never see each other (upstream's memberlist label).
pub const CLUSTER_NAME_HEADER: &str = "x-ferroalloy-cluster-name";

/// Upstream's packet timeout; a packet that takes longer is as good as lost.
const PACKET_TIMEOUT: Duration = Duration::from_secs(5);
/// SWIM tolerates loss, and a peer that does not accept a connection quickly is
/// treated like one that does not answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// HTTP carries bigger messages than UDP's 1400 bytes, so the full member list of a
/// large cluster fits one feed.
const MAX_PACKET_SIZE: usize = 64 * 1024;
/// Packets that arrived but were not handled yet. Past this, new ones are dropped:
/// SWIM recovers from loss, not from an unbounded queue.
const INBOX: usize = 1024;
/// How long `leave` waits for the last packets to go out.
const LEAVE_FLUSH: Duration = Duration::from_secs(2);

/// A node's SWIM identity. `addr` is what foca keys members by; the rest is metadata
/// that changes by replacing the identity with one of a higher `generation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeId {
    pub addr: SocketAddr,
    pub name: String,
    pub state: PeerState,
    /// Starts at the process start time in milliseconds, so a restarted node beats
    /// what the cluster remembers of its previous run, and grows by one per change.
    pub generation: u64,
    /// When `state` takes effect for ownership (cluster clock, Unix milliseconds):
    /// the handoff instant every node reads from here.
    pub effective_ms: u64,
    /// The hash of the loaded configuration, for convergence checks.
    pub config_hash: String,
}

impl Identity for NodeId {
    type Addr = SocketAddr;

    /// A node declared down by mistake (a pause, a partition) comes back at once.
    fn renew(&self) -> Option<Self> {
        Some(NodeId {
            generation: self.generation + 1,
            ..self.clone()
        })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, other: &Self) -> bool {
        (self.generation, self.state) > (other.generation, other.state)
    }
}

/// Packet counters of the HTTP transport.
#[derive(Debug, Clone, Default)]
pub struct TransportMetrics {
    pub rx_packets: Counter,
    pub rx_bytes: Counter,
    pub tx_packets: Counter,
    pub tx_bytes: Counter,
    pub tx_failed: Counter,
}

/// How to start gossiping.
#[derive(Debug, Clone)]
pub struct GossipOptions {
    pub name: String,
    /// The HTTP address peers reach this node on.
    pub advertise: SocketAddr,
    pub cluster_name: String,
    pub metrics: TransportMetrics,
    /// `--cluster.enable-tls`: send packets over HTTPS with this client configuration.
    pub tls: Option<GossipTls>,
}

enum Command {
    Packet(Vec<u8>),
    SetState(PeerState, u64, oneshot::Sender<Result<(), TransitionError>>),
    Join(Vec<SocketAddr>, oneshot::Sender<usize>),
    Leave(oneshot::Sender<()>),
}

/// Membership by SWIM gossip over HTTP. The foca state machine lives in one task; this
/// handle talks to it through a channel.
pub struct GossipMembership {
    commands: mpsc::Sender<Command>,
    /// The config hash this node should gossip. A watch rather than a command: the
    /// task always picks up the latest wanted hash, however busy the command channel
    /// is, and hashes set in a burst fold into one identity change.
    config_hash: watch::Sender<String>,
    peers: watch::Receiver<Vec<Peer>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl GossipMembership {
    /// Starts the gossip task with the HTTP transport. Must be called inside a tokio
    /// runtime.
    pub fn start(opts: GossipOptions) -> Result<Arc<GossipMembership>, String> {
        let transport = HttpTransport::new(&opts.cluster_name, opts.tls.as_ref())?;
        Ok(GossipMembership::start_with(opts, Arc::new(transport)))
    }

    /// Starts the gossip task sending through `transport`.
    pub fn start_with(
        opts: GossipOptions,
        transport: Arc<dyn PacketTransport>,
    ) -> Arc<GossipMembership> {
        let generation = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let me = NodeId {
            addr: opts.advertise,
            name: opts.name.clone(),
            state: PeerState::Viewer,
            generation,
            effective_ms: 0,
            config_hash: String::new(),
        };
        let (commands, inbox) = mpsc::channel(INBOX);
        let (peers_tx, peers) = watch::channel(vec![to_peer(&me, true)]);
        let (config_hash, wanted_hash) = watch::channel(String::new());
        let actor = Actor {
            foca: Foca::new(
                me,
                config(),
                rand::rngs::StdRng::seed_from_u64(generation ^ u64::from(std::process::id())),
                PostcardCodec,
            ),
            runtime: AccumulatingRuntime::new(),
            timers: JoinSet::new(),
            sends: JoinSet::new(),
            sender: Sender {
                transport,
                metrics: opts.metrics,
            },
            peers: peers_tx,
            joined: false,
            warned_twin: false,
            seeds: Vec::new(),
        };
        let task = tokio::spawn(actor.run(inbox, wanted_hash));
        Arc::new(GossipMembership {
            commands,
            config_hash,
            peers,
            task: Mutex::new(Some(task)),
        })
    }
}

impl Membership for GossipMembership {
    fn peers(&self) -> watch::Receiver<Vec<Peer>> {
        self.peers.clone()
    }

    fn set_state(
        &self,
        state: PeerState,
        effective_ms: u64,
    ) -> BoxFuture<Result<(), TransitionError>> {
        let commands = self.commands.clone();
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            // A stopped gossip task has nobody left to tell; the local state is moot.
            if commands
                .send(Command::SetState(state, effective_ms, tx))
                .await
                .is_err()
            {
                return Ok(());
            }
            rx.await.unwrap_or(Ok(()))
        })
    }

    fn set_config_hash(&self, hash: String) {
        // Never lost: the task reads the latest value whenever it gets to it.
        self.config_hash.send_replace(hash);
    }

    fn join(&self, addrs: Vec<SocketAddr>) -> BoxFuture<usize> {
        let commands = self.commands.clone();
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            if commands.send(Command::Join(addrs, tx)).await.is_err() {
                return 0;
            }
            rx.await.unwrap_or(0)
        })
    }

    fn leave(&self) -> BoxFuture<()> {
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        let commands = self.commands.clone();
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            if commands.send(Command::Leave(tx)).await.is_ok() {
                let _ = tokio::time::timeout(LEAVE_FLUSH * 2, rx).await;
            }
            if let Some(task) = task {
                task.abort();
            }
        })
    }

    fn receive(&self, packet: Vec<u8>) {
        // Full inbox: drop, as a congested UDP socket would.
        let _ = self.commands.try_send(Command::Packet(packet));
    }
}

impl Drop for GossipMembership {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
    }
}

/// foca's LAN settings (memberlist's defaults: 1 s probes, 500 ms probe RTT), with
/// HTTP-sized packets. The size hint only scales the suspicion timeout (by log10 of
/// it, at least 1): with a hint under 10 a failed node is declared down 4 s after it is
/// suspected, memberlist's LAN minimum.
fn config() -> Config {
    let mut config = Config::new_lan(NonZeroU32::new(4).expect("4 is not zero"));
    config.max_packet_size = NonZeroUsize::new(MAX_PACKET_SIZE).expect("not zero");
    config
}

fn to_peer(id: &NodeId, is_self: bool) -> Peer {
    Peer {
        name: id.name.clone(),
        addr: id.addr.to_string(),
        state: id.state,
        is_self,
        effective_ms: id.effective_ms,
        config_hash: id.config_hash.clone(),
    }
}

/// How gossip packets reach a peer: HTTP in production, an in-memory network in
/// tests. Delivery is best effort; SWIM copes with loss.
pub trait PacketTransport: Send + Sync + 'static {
    fn send(&self, to: SocketAddr, packet: Vec<u8>) -> BoxFuture<Result<(), String>>;
}

/// Each packet is one POST to the peer's HTTP server, over HTTPS with
/// `--cluster.enable-tls`.
pub struct HttpTransport {
    client: reqwest::Client,
    scheme: &'static str,
    cluster_name: String,
}

impl HttpTransport {
    pub fn new(cluster_name: &str, tls: Option<&GossipTls>) -> Result<HttpTransport, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(PACKET_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT);
        if let Some(tls) = tls {
            // The whole rustls configuration (roots, client certificate, verified
            // name) is ours; reqwest's own TLS settings would add the system roots.
            builder = builder.tls_backend_preconfigured(tls.client_config());
        }
        let client = builder
            .build()
            .map_err(|e| format!("building the gossip HTTP client: {e}"))?;
        Ok(HttpTransport {
            client,
            scheme: if tls.is_some() { "https" } else { "http" },
            cluster_name: cluster_name.to_string(),
        })
    }
}

impl PacketTransport for HttpTransport {
    fn send(&self, to: SocketAddr, packet: Vec<u8>) -> BoxFuture<Result<(), String>> {
        let request = self
            .client
            .post(format!("{}://{to}{MESSAGE_PATH}", self.scheme))
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .header(CLUSTER_NAME_HEADER, &self.cluster_name)
            .body(packet);
        Box::pin(async move {
            // The chain carries the TLS reason (unknown CA, name mismatch), which the
            // top-level reqwest message leaves out.
            let response = request.send().await.map_err(|e| error_chain(&e))?;
            match response.status() {
                s if s.is_success() => Ok(()),
                s => Err(format!("peer answered {s}")),
            }
        })
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A transport plus the packet counters.
#[derive(Clone)]
struct Sender {
    transport: Arc<dyn PacketTransport>,
    metrics: TransportMetrics,
}

impl Sender {
    async fn send(&self, to: SocketAddr, packet: Vec<u8>) -> Result<(), String> {
        let len = packet.len() as u64;
        let result = self.transport.send(to, packet).await;
        match &result {
            Ok(()) => {
                self.metrics.tx_packets.inc();
                self.metrics.tx_bytes.inc_by(len);
            }
            Err(_) => {
                self.metrics.tx_failed.inc();
            }
        }
        result
    }
}

struct Actor {
    foca: Foca<NodeId, PostcardCodec, rand::rngs::StdRng, foca::NoCustomBroadcast>,
    runtime: AccumulatingRuntime<NodeId>,
    /// foca's timers, each a task that sleeps and hands the timer back.
    timers: JoinSet<Timer<NodeId>>,
    /// Packets in flight; tracked so `leave` can wait for its last words.
    sends: JoinSet<()>,
    sender: Sender,
    peers: watch::Sender<Vec<Peer>>,
    joined: bool,
    /// Whether the duplicate-name warning was logged; once is enough.
    warned_twin: bool,
    /// The addresses of the last join, to announce a new identity to.
    seeds: Vec<SocketAddr>,
}

/// An identity to announce to when only the address is known: foca accepts an
/// announce addressed to any identity with the receiver's address.
fn seed_id(addr: SocketAddr) -> NodeId {
    NodeId {
        addr,
        name: String::new(),
        state: PeerState::Viewer,
        generation: 0,
        effective_ms: 0,
        config_hash: String::new(),
    }
}

impl Actor {
    async fn run(
        mut self,
        mut inbox: mpsc::Receiver<Command>,
        mut wanted_hash: watch::Receiver<String>,
    ) {
        loop {
            tokio::select! {
                command = inbox.recv() => match command {
                    None => return,
                    Some(Command::Leave(done)) => {
                        self.leave().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(command) => self.handle(command),
                },
                Some(Ok(timer)) = self.timers.join_next() => {
                    if let Err(err) = self.foca.handle_timer(timer, &mut self.runtime) {
                        tracing::debug!(error = %err, "Gossip timer failed.");
                    }
                }
                Some(_) = self.sends.join_next() => {}
                // The handle is gone (`Err`) when the node stops; nothing to publish.
                Ok(()) = wanted_hash.changed() => {
                    let config_hash = wanted_hash.borrow_and_update().clone();
                    let me = self.foca.identity().clone();
                    if me.config_hash != config_hash {
                        self.renew(NodeId { config_hash, ..me });
                    }
                }
            }
            self.drain();
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Packet(packet) => {
                self.sender.metrics.rx_packets.inc();
                self.sender.metrics.rx_bytes.inc_by(packet.len() as u64);
                if let Err(err) = self.foca.handle_data(&packet, &mut self.runtime) {
                    tracing::debug!(error = %err, "Dropped a gossip packet.");
                }
            }
            Command::SetState(state, effective_ms, reply) => {
                let me = self.foca.identity().clone();
                let result = me.state.check_transition(state);
                if result.is_ok() {
                    self.renew(NodeId {
                        state,
                        effective_ms,
                        ..me
                    });
                    // Publish the new peer list before replying: the caller applies
                    // it to its view as soon as the reply comes, and must not read the
                    // list from before the change.
                    self.drain();
                }
                let _ = reply.send(result);
            }
            Command::Join(addrs, reply) => {
                // Announces go out here rather than through `drain`, so the caller
                // learns how many peers could be reached.
                let mut runtime = AccumulatingRuntime::new();
                let me = self.foca.identity().addr;
                self.seeds = addrs.iter().copied().filter(|a| *a != me).collect();
                for addr in self.seeds.clone() {
                    if let Err(err) = self.foca.announce(seed_id(addr), &mut runtime) {
                        tracing::warn!(peer = %addr, error = %err, "Failed to announce to peer.");
                    }
                }
                let mut packets = Vec::new();
                while let Some((to, data)) = runtime.to_send() {
                    packets.push((to.addr, data.to_vec()));
                }
                let sender = self.sender.clone();
                self.sends.spawn(async move {
                    let mut reached = 0;
                    let mut tries = JoinSet::new();
                    for (addr, data) in packets {
                        let sender = sender.clone();
                        tries.spawn(async move { (addr, sender.send(addr, data).await) });
                    }
                    while let Some(Ok((addr, result))) = tries.join_next().await {
                        match result {
                            Ok(()) => reached += 1,
                            Err(err) => {
                                tracing::warn!(peer = %addr, error = %err, "Failed to reach a peer to join.")
                            }
                        }
                    }
                    let _ = reply.send(reached);
                });
            }
            Command::Leave(_) => unreachable!("handled by the loop"),
        }
    }

    /// Replaces this node's identity with `next` (one generation up), which foca
    /// spreads with its membership updates.
    fn renew(&mut self, next: NodeId) {
        let next = NodeId {
            generation: self.foca.identity().generation + 1,
            ..next
        };
        if let Err(err) = self.foca.change_identity(next, &mut self.runtime) {
            tracing::warn!(error = %err, "Failed to announce the new node identity.");
        }
        // Replies to our announcement that were addressed to the old identity are
        // dropped by foca; if that left us knowing nobody, nobody would learn the new
        // identity either. Announce it again.
        if self.foca.num_members() == 0 {
            for seed in self.seeds.clone() {
                let _ = self.foca.announce(seed_id(seed), &mut self.runtime);
            }
        }
    }

    /// Carries out what foca asked for: packets, timers, and a new peer list.
    fn drain(&mut self) {
        while let Some((to, data)) = self.runtime.to_send() {
            let sender = self.sender.clone();
            self.sends.spawn(async move {
                if let Err(err) = sender.send(to.addr, data.to_vec()).await {
                    tracing::debug!(peer = %to.name, addr = %to.addr, error = %err, "Failed to send a gossip packet.");
                }
            });
        }
        while let Some((after, timer)) = self.runtime.to_schedule() {
            self.timers.spawn(async move {
                tokio::time::sleep(after).await;
                timer
            });
        }
        while let Some(notification) = self.runtime.to_notify() {
            match notification {
                OwnedNotification::MemberUp(id) => {
                    tracing::debug!(peer = %id.name, addr = %id.addr, state = %id.state, "Peer is up.")
                }
                OwnedNotification::MemberDown(id) => {
                    tracing::info!(peer = %id.name, addr = %id.addr, "Peer left or failed.")
                }
                // Every state change is a new identity that becomes active again;
                // only the first time is news.
                OwnedNotification::Active if !self.joined => {
                    self.joined = true;
                    tracing::info!("Joined the cluster.");
                }
                OwnedNotification::Rejoin(id) => {
                    tracing::warn!(
                        generation = id.generation,
                        "This node was declared down; rejoined."
                    )
                }
                _ => {}
            }
        }
        let mut list: Vec<Peer> = self
            .foca
            .iter_members()
            .map(|m| to_peer(m.id(), false))
            .collect();
        // Upstream's memberlist refuses a second node with a taken name; foca keys
        // members by address, so we can only point the mistake out: both nodes would
        // own the same targets.
        let me = self.foca.identity();
        if let Some(twin) = list.iter().find(|p| p.name == me.name) {
            if !self.warned_twin {
                self.warned_twin = true;
                tracing::warn!(name = %me.name, other = %twin.addr, "Another node uses this node's name; --cluster.node-name must be unique.");
            }
        }
        list.push(to_peer(self.foca.identity(), true));
        list.sort_by(|a, b| a.name.cmp(&b.name).then(a.addr.cmp(&b.addr)));
        self.peers.send_if_modified(|current| {
            if *current == list {
                false
            } else {
                *current = list;
                true
            }
        });
    }

    /// Declares this node gone and waits (bounded) for the packets saying so.
    async fn leave(&mut self) {
        if let Err(err) = self.foca.leave_cluster(&mut self.runtime) {
            tracing::debug!(error = %err, "Failed to announce leaving.");
        }
        self.drain();
        let flush = async { while self.sends.join_next().await.is_some() {} };
        if tokio::time::timeout(LEAVE_FLUSH, flush).await.is_err() {
            tracing::debug!("Gave up waiting for the last gossip packets.");
        }
    }
}
