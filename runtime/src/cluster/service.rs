//! The cluster service: keeps the [`ClusterView`] current from the membership, tells
//! subscribers about changes (at most once a second, as upstream), re-joins peers
//! periodically, and exports the cluster metrics. [`Cluster`] is the cheap, cloneable
//! handle components use.

use super::admission::Admission;
use super::clock;
use super::discovery::{resolve_join_addresses, sample};
use super::gossip::{GossipMembership, GossipOptions, TransportMetrics};
use super::membership::{LocalMembership, Membership};
use super::peer::{Peer, PeerState};
use super::ring::target_key;
use super::transport_tls::GossipTls;
use super::view::{ClusterView, Op};
use crate::metrics::Metrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Upstream's rate limit on change notifications: components re-shard at most once a
/// second however fast membership churns.
pub const NOTIFY_INTERVAL: Duration = Duration::from_secs(1);
/// How far ahead of "now" a node's state change takes effect for ownership (the
/// handoff instant it gossips with the change). It must cover the gossip spreading
/// the change to every node (a few 200 ms rounds on a LAN) plus the one-second
/// notification limit, so the gaining node's scrape loop is ready before the first
/// slot it owns. Clocks of the nodes must agree to well within it.
pub const HANDOFF_MARGIN: Duration = Duration::from_secs(2);
/// How long a leaving node stays after its handoff instant: a scrape of the last slot
/// it owns started before the instant and may still be writing its samples.
const HANDOFF_TAIL: Duration = Duration::from_millis(500);

/// How to set up the cluster; the CLI fills this from the `--cluster.*` flags.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub enabled: bool,
    pub node_name: String,
    /// The HTTP address peers reach this node on.
    pub advertise: SocketAddr,
    pub cluster_name: String,
    /// `--cluster.join-addresses` entries, `host[:port]`.
    pub join_addresses: Vec<String>,
    /// The port of join addresses that name none: the HTTP listen port.
    pub default_port: u16,
    /// `0` joins only at startup.
    pub rejoin_interval: Duration,
    pub max_join_peers: usize,
    pub wait_for_size: usize,
    /// `None` waits forever.
    pub wait_timeout: Option<Duration>,
    /// `--cluster.enable-tls`: gossip to peers over HTTPS.
    pub tls: Option<GossipTls>,
}

impl ClusterOptions {
    /// A node without clustering: itself only.
    pub fn standalone(node_name: &str, advertise: SocketAddr) -> ClusterOptions {
        ClusterOptions {
            enabled: false,
            node_name: node_name.to_string(),
            advertise,
            cluster_name: String::new(),
            join_addresses: Vec::new(),
            default_port: advertise.port(),
            rejoin_interval: Duration::ZERO,
            max_join_peers: 0,
            wait_for_size: 0,
            wait_timeout: None,
            tls: None,
        }
    }
}

/// A handle on the cluster. Cloning is cheap; every clone sees the same state.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node_name", &self.node_name())
            .field("enabled", &self.enabled())
            .finish_non_exhaustive()
    }
}

struct Inner {
    opts: ClusterOptions,
    membership: Arc<dyn Membership>,
    view: RwLock<ClusterView>,
    /// A counter bumped on every (rate-limited) change; subscribers only care that it
    /// moved, then ask [`Cluster::is_local`] again.
    changes: watch::Sender<u64>,
    metrics: ClusterMetrics,
    shutdown: CancellationToken,
    tasks: Mutex<JoinSet<()>>,
    hashes: Mutex<ConfigHashes>,
}

/// What the gossiped config hash is made of: the root configuration's hash and the
/// content hash of every module content currently in use, by the node that loaded it.
#[derive(Default)]
struct ConfigHashes {
    root: String,
    /// Content hash by module node, with the serial of the guard that put it there.
    modules: std::collections::BTreeMap<String, (u64, String)>,
    /// Numbers guards, so a replaced module's old guard cannot remove its successor.
    serial: u64,
}

impl ConfigHashes {
    /// SHA-256 over the root hash and each `(module node, content hash)`, lower-case
    /// hex; empty until a root configuration was loaded.
    fn combined(&self) -> String {
        use sha2::{Digest, Sha256};
        if self.root.is_empty() {
            return String::new();
        }
        if self.modules.is_empty() {
            return self.root.clone();
        }
        let mut hasher = Sha256::new();
        hasher.update(self.root.as_bytes());
        for (id, (_, hash)) in &self.modules {
            hasher.update([0]);
            hasher.update(id.as_bytes());
            hasher.update([0]);
            hasher.update(hash.as_bytes());
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Keeps a module's content in the config hash while it lives; dropping it takes the
/// content out again (the module was removed or replaced).
pub struct ModuleHashGuard {
    cluster: Cluster,
    id: String,
    serial: u64,
}

impl Drop for ModuleHashGuard {
    fn drop(&mut self) {
        let mut hashes = self.cluster.lock_hashes();
        if hashes.modules.get(&self.id).map(|(s, _)| *s) != Some(self.serial) {
            // A newer content of the same module replaced this one.
            return;
        }
        hashes.modules.remove(&self.id);
        let combined = hashes.combined();
        drop(hashes);
        self.cluster.publish_hash(combined);
    }
}

impl std::fmt::Debug for ModuleHashGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleHashGuard")
            .field("id", &self.id)
            .finish()
    }
}

/// Why a target belongs where it does: the answer of `cluster explain`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The labels that make the key (non-`__meta_`, sorted by name).
    pub key_labels: Vec<(String, String)>,
    /// The ring key, xxHash64 of those labels, in hex.
    pub key: String,
    /// Who owns it now in the read-write ring; `None` when nobody participates.
    pub owner: Option<String>,
    /// The ring token that picked the owner (the first at or above the key), in hex.
    pub token: Option<String>,
    /// The node this answer comes from.
    pub node: String,
    /// Whether this node scrapes the target now.
    pub local: bool,
    pub clustering_enabled: bool,
    /// wait-for-size readiness: nothing is local while it is false.
    pub ready: bool,
    /// The nodes the ring was built from, and those left out with the reason.
    pub considered: Vec<String>,
    pub skipped: Vec<SkippedPeer>,
    /// A handoff already announced that will move the target: who owns it then, and
    /// from which instant (Unix milliseconds).
    pub pending_owner: Option<String>,
    pub pending_from_ms: Option<u64>,
    /// How the decision was made, in one sentence.
    pub reason: String,
}

/// A peer the ring left out.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SkippedPeer {
    pub name: String,
    pub state: String,
    pub reason: String,
}

impl Cluster {
    /// A one-node, non-clustered cluster with no background task: every target is
    /// local. For tests and for components built outside `run`.
    pub fn standalone(node_name: &str) -> Cluster {
        let opts = ClusterOptions::standalone(node_name, SocketAddr::from(([127, 0, 0, 1], 0)));
        let membership = LocalMembership::new(node_name, &opts.advertise.to_string());
        let cluster = Cluster::with_membership(opts, membership, ClusterMetrics::default());
        cluster.apply_peers();
        cluster
    }

    /// Starts the service: gossip (or the local membership when clustering is off),
    /// metrics in `metrics`, and the change-watch task. [`Cluster::join`] comes next;
    /// a join that reaches nobody is not an error: the node starts its own cluster.
    pub async fn start(opts: ClusterOptions, metrics: &Metrics) -> Result<Cluster, String> {
        let cluster_metrics = ClusterMetrics::register(metrics, &opts.cluster_name);
        let membership: Arc<dyn Membership> = if opts.enabled {
            GossipMembership::start(GossipOptions {
                name: opts.node_name.clone(),
                advertise: opts.advertise,
                cluster_name: opts.cluster_name.clone(),
                metrics: cluster_metrics.transport.clone(),
                tls: opts.tls.clone(),
            })?
        } else {
            LocalMembership::new(&opts.node_name, &opts.advertise.to_string())
        };
        Ok(Cluster::start_with(opts, membership, cluster_metrics))
    }

    /// [`Cluster::start`] over a membership of the caller's choice (tests use gossip
    /// over an in-memory network). Metrics are kept but not registered anywhere.
    pub fn with_membership_unregistered(
        opts: ClusterOptions,
        membership: Arc<dyn Membership>,
    ) -> Cluster {
        Cluster::start_with(opts, membership, ClusterMetrics::default())
    }

    fn start_with(
        opts: ClusterOptions,
        membership: Arc<dyn Membership>,
        metrics: ClusterMetrics,
    ) -> Cluster {
        let cluster = Cluster::with_membership(opts, membership, metrics);
        cluster.apply_peers();
        cluster.spawn(watch_loop(cluster.clone()));
        cluster
    }

    /// Joins the peers of `--cluster.join-addresses` and keeps re-joining them every
    /// `--cluster.rejoin-interval`. Call it once the HTTP server is up: peers answer
    /// the announcement by posting to it.
    pub async fn join(&self) {
        if !self.inner.opts.enabled {
            return;
        }
        self.join_peers(true).await;
        if !self.inner.opts.rejoin_interval.is_zero() {
            self.spawn(rejoin_loop(self.clone()));
        }
    }

    fn with_membership(
        opts: ClusterOptions,
        membership: Arc<dyn Membership>,
        metrics: ClusterMetrics,
    ) -> Cluster {
        let admission = Admission::new(opts.wait_for_size, opts.wait_timeout, now());
        metrics.minimum_size.set(if opts.enabled {
            opts.wait_for_size as i64
        } else {
            0
        });
        let view = ClusterView::new(&opts.node_name, opts.enabled, admission);
        Cluster {
            inner: Arc::new(Inner {
                opts,
                membership,
                view: RwLock::new(view),
                changes: watch::Sender::new(0),
                metrics,
                shutdown: CancellationToken::new(),
                tasks: Mutex::new(JoinSet::new()),
                hashes: Mutex::new(ConfigHashes::default()),
            }),
        }
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spawn(task);
    }

    fn view(&self) -> std::sync::RwLockReadGuard<'_, ClusterView> {
        self.inner.view.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether clustering is enabled (`--cluster.enabled`).
    pub fn enabled(&self) -> bool {
        self.inner.opts.enabled
    }

    pub fn node_name(&self) -> &str {
        &self.inner.opts.node_name
    }

    pub fn cluster_name(&self) -> &str {
        &self.inner.opts.cluster_name
    }

    /// Whether this node should handle the target with these labels (CLUSTERING.md §6).
    /// Always true without clustering.
    pub fn is_local<'a>(&self, labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        self.is_local_key(target_key(labels))
    }

    /// [`Cluster::is_local`] for a precomputed [`target_key`], now.
    pub fn is_local_key(&self, key: u64) -> bool {
        self.view().is_local_key_at(key, clock::now_ms())
    }

    /// Whether this node owns `key` for the scrape slot at `slot_ms` (Unix
    /// milliseconds). Each side of a handoff answers this the same way for the same
    /// slot, so exactly one of them scrapes it.
    pub fn is_local_key_at(&self, key: u64, slot_ms: u64) -> bool {
        self.view().is_local_key_at(key, slot_ms)
    }

    /// Whether this node owns `key` now or will after an announced handoff: a
    /// component keeps (or starts) its work for such a key and asks
    /// [`Cluster::is_local_key_at`] slot by slot.
    pub fn is_local_key_from_now(&self, key: u64) -> bool {
        self.view().is_local_key_from(key, clock::now_ms())
    }

    /// Records the hash of the root configuration just loaded and gossips the
    /// combined config hash.
    pub fn set_config_hash(&self, root: &str) {
        let combined = {
            let mut hashes = self.lock_hashes();
            hashes.root = root.to_string();
            hashes.combined()
        };
        self.publish_hash(combined);
    }

    /// Adds the content of module node `id` to the config hash until the guard is
    /// dropped.
    pub fn module_content(
        &self,
        id: &str,
        content: &[(Option<String>, String)],
    ) -> ModuleHashGuard {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for (name, text) in content {
            hasher.update(name.as_deref().unwrap_or("").as_bytes());
            hasher.update([0]);
            hasher.update(text.as_bytes());
            hasher.update([0]);
        }
        let hash: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let (combined, serial) = {
            let mut hashes = self.lock_hashes();
            hashes.serial += 1;
            let serial = hashes.serial;
            hashes.modules.insert(id.to_string(), (serial, hash));
            (hashes.combined(), serial)
        };
        self.publish_hash(combined);
        ModuleHashGuard {
            cluster: self.clone(),
            id: id.to_string(),
            serial,
        }
    }

    /// The config hash this node gossips.
    pub fn config_hash(&self) -> String {
        self.lock_hashes().combined()
    }

    fn lock_hashes(&self) -> std::sync::MutexGuard<'_, ConfigHashes> {
        self.inner.hashes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish_hash(&self, combined: String) {
        self.inner.membership.set_config_hash(combined);
        if !self.enabled() {
            // The local membership changed synchronously; no watch task may run.
            self.apply_peers();
        }
    }

    /// Which node owns the target with these labels, and why (`cluster explain`).
    pub fn explain(&self, labels: &[(String, String)]) -> Explanation {
        let mut key_labels: Vec<(String, String)> = labels
            .iter()
            .filter(|(name, _)| !name.starts_with("__meta_"))
            .cloned()
            .collect();
        key_labels.sort();
        let key = target_key(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let now_ms = clock::now_ms();
        let view = self.view();
        let ring = view.read_write_ring_at(now_ms);
        let won = ring.owner_token(key);
        let considered = ring.names().to_vec();
        let skipped = view
            .peers()
            .iter()
            .filter(|p| !considered.contains(&p.name))
            .map(|p| SkippedPeer {
                name: p.name.clone(),
                state: p.state.as_str().to_string(),
                reason: match p.state {
                    PeerState::Viewer => "viewer: has not loaded its configuration yet".into(),
                    PeerState::Terminating => "terminating: shutting down, takes no work".into(),
                    PeerState::Participant => format!(
                        "participant from {} (Unix ms) on: its join has not taken effect yet",
                        p.effective_ms
                    ),
                },
            })
            .collect();
        let local = view.is_local_key_at(key, now_ms);
        let pending = view.next_handoff_after(now_ms).and_then(|at| {
            let later = view.lookup_at(key, u64::MAX).ok().flatten()?;
            (Some(later) != won.map(|(_, n)| n)).then(|| (later.to_string(), at))
        });
        let reason = if !self.enabled() {
            "clustering is disabled: this node scrapes every target".to_string()
        } else if !view.ready() {
            "the cluster is not ready (--cluster.wait-for-size): no node takes work".to_string()
        } else {
            match won {
                Some((token, owner)) => format!(
                    "token {token:016x} of {owner} is the first ring token at or above key {key:016x}"
                ),
                None => "no node participates yet, so every node keeps the target".to_string(),
            }
        };
        Explanation {
            key_labels,
            key: format!("{key:016x}"),
            owner: won.map(|(_, n)| n.to_string()),
            token: won.map(|(t, _)| format!("{t:016x}")),
            node: self.node_name().to_string(),
            local,
            clustering_enabled: self.enabled(),
            ready: view.ready(),
            considered,
            skipped,
            pending_owner: pending.as_ref().map(|(n, _)| n.clone()),
            pending_from_ms: pending.map(|(_, at)| at),
            reason,
        }
    }

    /// The owner of `key` in the read-write ring, if any participant exists.
    pub fn lookup(&self, key: u64) -> Option<String> {
        self.view()
            .lookup(key, Op::ReadWrite)
            .ok()
            .flatten()
            .map(str::to_string)
    }

    /// Whether clustered components may take work (§7 wait-for-size).
    pub fn ready(&self) -> bool {
        self.view().ready()
    }

    /// Changes whenever ownership may have moved (membership, states, readiness), at
    /// most once per [`NOTIFY_INTERVAL`]. Components `changed().await` on it and then
    /// recompute which targets are local.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Every live peer, this node included, sorted by name.
    pub fn peers(&self) -> Vec<Peer> {
        self.view().peers().to_vec()
    }

    /// Hands over a gossip packet from the HTTP server.
    pub fn receive(&self, packet: Vec<u8>) {
        self.inner.membership.receive(packet);
    }

    /// Marks this node a participant: called once the initial load succeeded. It
    /// takes work from [`HANDOFF_MARGIN`] from now on, so the nodes that hand it
    /// targets learn the instant first.
    pub async fn participate(&self) {
        self.set_state(PeerState::Participant).await;
    }

    /// Changes this node's state with a handoff instant [`HANDOFF_MARGIN`] ahead;
    /// returns the instant.
    async fn set_state(&self, state: PeerState) -> u64 {
        let effective_ms = if self.enabled() {
            clock::now_ms() + HANDOFF_MARGIN.as_millis() as u64
        } else {
            0
        };
        match self.inner.membership.set_state(state, effective_ms).await {
            Ok(()) if self.enabled() => {
                tracing::info!(state = %state, effective_ms, "Changed the cluster state of this node.")
            }
            Ok(()) => {}
            Err(err) => tracing::warn!(error = %err, "Failed to change the cluster state."),
        }
        // Our own state is part of the view: apply it now rather than after gossip.
        self.apply_peers();
        effective_ms
    }

    /// Becomes terminating, keeps its targets until the handoff instant it announced
    /// with that (every peer starts on the first slot from it on), then leaves and
    /// stops the background tasks. Bounded in time ([`HANDOFF_MARGIN`] and a bit).
    pub async fn shutdown(&self) {
        let me = self
            .view()
            .peers()
            .iter()
            .find(|p| p.is_self)
            .map(|p| p.state);
        if me == Some(PeerState::Participant) {
            let handoff = self.set_state(PeerState::Terminating).await;
            if self.enabled() && self.view().peers().len() > 1 {
                tokio::time::sleep(clock::until(handoff) + HANDOFF_TAIL).await;
            }
        }
        self.inner.membership.leave().await;
        self.inner.shutdown.cancel();
        let mut tasks =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }

    /// Takes the membership's current peers into the view. Returns whether a ring changed.
    ///
    /// The list is read while holding the view's lock: `set_state` and the watch loop
    /// both apply, and reading first would let the slower of two callers write an
    /// older list over a newer one (a node then showed itself a viewer for good,
    /// since the watch had nothing newer to report).
    fn apply_peers(&self) -> bool {
        let mut view = self.inner.view.write().unwrap_or_else(|e| e.into_inner());
        let peers = self.inner.membership.peers().borrow().clone();
        let changed = view.set_peers(peers, now(), clock::now_ms());
        self.inner.metrics.record(&view, changed);
        changed
    }

    /// Resolves the join addresses and announces this node to (a sample of) them.
    async fn join_peers(&self, initial: bool) {
        let opts = &self.inner.opts;
        if opts.join_addresses.is_empty() {
            if initial {
                tracing::info!("No join addresses; starting a new cluster.");
            }
            return;
        }
        let addrs = match resolve_join_addresses(&opts.join_addresses, opts.default_port).await {
            Ok(addrs) => addrs,
            Err(err) => {
                tracing::warn!(error = %err, "Failed to discover peers to join.");
                return;
            }
        };
        let seed = u64::from(std::process::id()).rotate_left(32)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
        let addrs: Vec<SocketAddr> = sample(addrs, opts.max_join_peers, seed)
            .into_iter()
            .filter(|a| *a != opts.advertise)
            .collect();
        if addrs.is_empty() {
            return;
        }
        let reached = self.inner.membership.join(addrs.clone()).await;
        if reached == 0 && initial {
            tracing::warn!(peers = ?addrs, "Failed to join any peer; starting a new cluster.");
        } else if initial {
            tracing::info!(peers = ?addrs, reached, "Announced this node to peers.");
        }
    }
}

/// Applies membership changes to the view as they come, so lookups are always
/// current, and notifies subscribers no more than once per [`NOTIFY_INTERVAL`]
/// (changes in between are folded into one round). Also lets a wait-for-size deadline
/// pass, which forces a round although membership did not change.
async fn watch_loop(cluster: Cluster) {
    let inner = &cluster.inner;
    let mut peers = inner.membership.peers();
    // The first round tells subscribers about the initial state.
    let mut pending = true;
    let mut ring_changed = false;
    let mut forced = false;
    let mut next_allowed = now();
    loop {
        let deadline = cluster.view().admission().deadline();
        let handoff = cluster.view().next_handoff_after(clock::now_ms());
        tokio::select! {
            changed = peers.changed() => {
                if changed.is_err() {
                    return;
                }
                peers.borrow_and_update();
                ring_changed |= cluster.apply_peers();
                pending = true;
            }
            _ = sleep_until_opt(deadline) => {
                let mut view = inner.view.write().unwrap_or_else(|e| e.into_inner());
                if view.tick(now()) {
                    tracing::warn!("Gave up waiting for --cluster.wait-for-size peers; taking work anyway.");
                    pending = true;
                    forced = true;
                }
                inner.metrics.record(&view, false);
            }
            // An announced handoff takes effect: the losing node's components stop
            // the work they kept until now.
            _ = sleep_opt(handoff.map(clock::until)) => {
                let mut view = inner.view.write().unwrap_or_else(|e| e.into_inner());
                // Rebuilding folds the passed instant away and records the metrics.
                let peers = view.peers().to_vec();
                view.set_peers(peers, now(), clock::now_ms());
                inner.metrics.record(&view, true);
                ring_changed = true;
                pending = true;
            }
            _ = sleep_until_opt(pending.then_some(next_allowed)) => {
                let list: Vec<String> = cluster
                    .peers()
                    .iter()
                    .map(|p| format!("{}({})", p.name, p.state))
                    .collect();
                tracing::info!(peers = ?list, ring_changed, forced, ready = cluster.ready(), "peers changed");
                inner.changes.send_modify(|n| *n += 1);
                pending = false;
                ring_changed = false;
                forced = false;
                next_allowed = now() + NOTIFY_INTERVAL;
            }
            _ = inner.shutdown.cancelled() => return,
        }
    }
}

/// The time on tokio's clock, so tests can pause and advance it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Sleeps for `after` (plus a millisecond, so the instant has surely passed), or
/// forever.
async fn sleep_opt(after: Option<Duration>) {
    match after {
        Some(after) => tokio::time::sleep(after + Duration::from_millis(1)).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// Re-runs discovery and joining every `--cluster.rejoin-interval`, healing splits.
async fn rejoin_loop(cluster: Cluster) {
    let interval = cluster.inner.opts.rejoin_interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => cluster.join_peers(false).await,
            _ = cluster.inner.shutdown.cancelled() => return,
        }
    }
}

type Labels = Vec<(String, String)>;

/// The cluster's metrics, all labelled with `cluster_name` as upstream's are.
#[derive(Clone, Default)]
struct ClusterMetrics {
    labels: Labels,
    node_info: Family<Labels, Gauge>,
    peers: Family<Labels, Gauge>,
    ready: Gauge,
    minimum_size: Gauge,
    ring_changes: Counter,
    config_mismatch: Gauge,
    transport: TransportMetrics,
}

impl ClusterMetrics {
    fn register(metrics: &Metrics, cluster_name: &str) -> ClusterMetrics {
        let labels = vec![("cluster_name".to_string(), cluster_name.to_string())];
        // A single series with a constant label is a one-entry family; the metric
        // handles clone the entry, which shares its value.
        let gauge = |name: &str, help: &str| -> Gauge {
            let family = Family::<Labels, Gauge>::default();
            let gauge = family.get_or_create(&labels).clone();
            metrics.register(name, help, family);
            gauge
        };
        let counter = |name: &str, help: &str| -> Counter {
            let family = Family::<Labels, Counter>::default();
            let counter = family.get_or_create(&labels).clone();
            metrics.register(name, help, family);
            counter
        };
        let m = ClusterMetrics {
            labels: labels.clone(),
            ready: gauge(
                "cluster_ready_for_traffic",
                "Whether the cluster is ready for traffic (1) or not (0)",
            ),
            minimum_size: gauge(
                "cluster_minimum_size",
                "The minimum number of non-viewer peers before the cluster takes traffic (--cluster.wait-for-size)",
            ),
            ring_changes: counter(
                "cluster_ring_changes",
                "How often the read or read-write ring changed",
            ),
            config_mismatch: gauge(
                "cluster_node_config_hash_mismatch_peers",
                "Peers whose gossiped config hash (modules included) differs from this node's",
            ),
            transport: TransportMetrics {
                rx_packets: counter("cluster_transport_rx_packets", "Gossip packets received"),
                rx_bytes: counter("cluster_transport_rx_bytes", "Gossip bytes received"),
                tx_packets: counter("cluster_transport_tx_packets", "Gossip packets sent"),
                tx_bytes: counter("cluster_transport_tx_bytes", "Gossip bytes sent"),
                tx_failed: counter(
                    "cluster_transport_tx_packets_failed",
                    "Gossip packets that could not be delivered",
                ),
            },
            ..ClusterMetrics::default()
        };
        metrics.register(
            "cluster_node_info",
            "Info about the local node; label values contain the state",
            m.node_info.clone(),
        );
        metrics.register(
            "cluster_node_peers",
            "Current number of healthy peers by state",
            m.peers.clone(),
        );
        m
    }

    /// Publishes the view's state.
    fn record(&self, view: &ClusterView, ring_changed: bool) {
        let with_state = |state: PeerState| {
            let mut labels = self.labels.clone();
            labels.push(("state".to_string(), state.as_str().to_string()));
            labels
        };
        let me = view.peers().iter().find(|p| p.is_self).map(|p| p.state);
        for state in PeerState::ALL {
            let count = view.peers().iter().filter(|p| p.state == state).count();
            self.peers
                .get_or_create(&with_state(state))
                .set(count as i64);
            self.node_info
                .get_or_create(&with_state(state))
                .set(i64::from(me == Some(state)));
        }
        self.ready.set(i64::from(view.ready()));
        self.config_mismatch
            .set(config_mismatches(view.peers()) as i64);
        if ring_changed {
            self.ring_changes.inc();
        }
    }
}

/// Peers that gossip a config hash other than this node's. Nodes that have not loaded
/// a configuration yet (no hash) are not counted either way.
pub fn config_mismatches(peers: &[Peer]) -> usize {
    let Some(mine) = peers
        .iter()
        .find(|p| p.is_self)
        .map(|p| p.config_hash.as_str())
        .filter(|h| !h.is_empty())
    else {
        return 0;
    };
    peers
        .iter()
        .filter(|p| !p.is_self && !p.config_hash.is_empty() && p.config_hash != mine)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::TransitionError;
    use crate::component::BoxFuture;

    /// A membership whose peer list the test writes.
    struct Fake(watch::Sender<Vec<Peer>>);

    impl Membership for Fake {
        fn peers(&self) -> watch::Receiver<Vec<Peer>> {
            self.0.subscribe()
        }
        fn set_state(&self, _: PeerState, _: u64) -> BoxFuture<Result<(), TransitionError>> {
            Box::pin(async { Ok(()) })
        }
        fn set_config_hash(&self, _: String) {}
        fn join(&self, _: Vec<SocketAddr>) -> BoxFuture<usize> {
            Box::pin(async { 0 })
        }
        fn leave(&self) -> BoxFuture<()> {
            Box::pin(async {})
        }
        fn receive(&self, _: Vec<u8>) {}
    }

    fn peers(names: &[&str]) -> Vec<Peer> {
        names
            .iter()
            .map(|n| Peer {
                name: n.to_string(),
                addr: String::new(),
                state: PeerState::Participant,
                is_self: *n == "a",
                ..Peer::default()
            })
            .collect()
    }

    fn clustered(fake: Arc<Fake>, wait_for_size: usize, timeout: Option<Duration>) -> Cluster {
        let mut opts = ClusterOptions::standalone("a", SocketAddr::from(([127, 0, 0, 1], 1)));
        opts.enabled = true;
        opts.wait_for_size = wait_for_size;
        opts.wait_timeout = timeout;
        let cluster = Cluster::with_membership(opts, fake, ClusterMetrics::default());
        cluster.apply_peers();
        cluster.spawn(watch_loop(cluster.clone()));
        cluster
    }

    /// A key that `owner` gets among participants {a, b}.
    fn key_of(cluster: &Cluster, owner: &str) -> u64 {
        (0u64..)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .find(|&k| cluster.lookup(k).as_deref() == Some(owner))
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn lookups_follow_at_once_but_notifications_come_at_most_once_a_second() {
        let fake = Arc::new(Fake(watch::Sender::new(peers(&["a"]))));
        let cluster = clustered(fake.clone(), 0, None);
        let mut changes = cluster.subscribe();
        // The initial round.
        tokio::time::timeout(Duration::from_millis(10), changes.changed())
            .await
            .expect("initial notification")
            .unwrap();
        let start = tokio::time::Instant::now();

        fake.0.send_replace(peers(&["a", "b"]));
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        let theirs = key_of(&cluster, "b");
        assert!(!cluster.is_local_key(theirs), "the ring follows at once");

        // Five more changes within the same second fold into one notification.
        for round in 0..5 {
            let list: &[&str] = if round % 2 == 0 { &["a"] } else { &["a", "b"] };
            fake.0.send_replace(peers(list));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        changes.changed().await.unwrap();
        let first = start.elapsed();
        assert!(first >= Duration::from_millis(990), "{first:?}");
        assert!(
            tokio::time::timeout(Duration::from_secs(5), changes.changed())
                .await
                .is_err(),
            "no change, no notification"
        );
        // The last list ({a}) is what lookups see.
        assert!(cluster.is_local_key(theirs));
        cluster.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_passing_wait_timeout_notifies_and_makes_targets_local() {
        let fake = Arc::new(Fake(watch::Sender::new(peers(&["a"]))));
        let cluster = clustered(fake, 3, Some(Duration::from_secs(30)));
        let mut changes = cluster.subscribe();
        changes.changed().await.unwrap();
        assert!(!cluster.ready());
        assert!(!cluster.is_local([("__address__", "x:1")]));
        let start = tokio::time::Instant::now();
        changes.changed().await.unwrap();
        assert!(
            start.elapsed() >= Duration::from_secs(29),
            "{:?}",
            start.elapsed()
        );
        assert!(cluster.ready());
        assert!(cluster.is_local([("__address__", "x:1")]));
        cluster.shutdown().await;
    }

    #[test]
    fn module_content_counts_in_the_config_hash_while_it_is_in_use() {
        let cluster = Cluster::standalone("solo");
        assert_eq!(cluster.config_hash(), "");
        cluster.set_config_hash("root");
        assert_eq!(cluster.config_hash(), "root");
        let x = vec![(None, "declare \"x\" { }".to_string())];
        let y = vec![(None, "declare \"y\" { }".to_string())];
        let first = cluster.module_content("import.file.m", &x);
        let with_x = cluster.config_hash();
        assert_ne!(with_x, "root");
        // New content replaces the old; dropping the old guard keeps the new.
        let second = cluster.module_content("import.file.m", &y);
        drop(first);
        let with_y = cluster.config_hash();
        assert_ne!(with_y, with_x);
        let third = cluster.module_content("import.file.m", &x);
        drop(second);
        assert_eq!(cluster.config_hash(), with_x);
        assert_eq!(cluster.peers()[0].config_hash, with_x, "published");
        drop(third);
        assert_eq!(cluster.config_hash(), "root");
    }

    #[tokio::test]
    async fn a_standalone_cluster_owns_everything() {
        let cluster = Cluster::standalone("solo");
        assert!(!cluster.enabled());
        assert!(cluster.ready());
        assert!(cluster.is_local([("job", "a")]));
        cluster.participate().await;
        assert_eq!(cluster.lookup(7).as_deref(), Some("solo"));
        assert_eq!(cluster.peers()[0].state, PeerState::Participant);
    }
}
