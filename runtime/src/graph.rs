//! The dependency graph of a configuration scope, in petgraph. Edges point from a
//! dependant to what it depends on, as upstream, so "dependencies first" is the reverse
//! of a topological sort of the edges.

use crate::refs::Traversal;
use alloy_syntax::ast::Ident;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::collections::HashMap;

/// What the graph needs to know about a node.
pub trait GraphNode {
    /// The node's local ID, e.g. `prometheus.scrape.default`.
    fn id(&self) -> &str;
}

/// Nodes by ID plus the edges between them.
#[derive(Debug)]
pub struct Graph<N> {
    graph: DiGraph<N, ()>,
    by_id: HashMap<String, NodeIndex>,
}

impl<N> Default for Graph<N> {
    fn default() -> Self {
        Graph {
            graph: DiGraph::new(),
            by_id: HashMap::new(),
        }
    }
}

/// A reference that resolved to a node: the node and the export field path after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<'t> {
    pub node: NodeIndex,
    pub fields: &'t [Ident],
}

impl<N: GraphNode> Graph<N> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node; if its ID is taken, returns the index of the node holding it and
    /// does not add anything.
    pub fn add(&mut self, node: N) -> Result<NodeIndex, NodeIndex> {
        if let Some(&existing) = self.by_id.get(node.id()) {
            return Err(existing);
        }
        let id = node.id().to_string();
        let index = self.graph.add_node(node);
        self.by_id.insert(id, index);
        Ok(index)
    }

    pub fn get(&self, id: &str) -> Option<NodeIndex> {
        self.by_id.get(id).copied()
    }

    pub fn node(&self, index: NodeIndex) -> &N {
        &self.graph[index]
    }

    pub fn node_mut(&mut self, index: NodeIndex) -> &mut N {
        &mut self.graph[index]
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    pub fn indices(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph.node_indices()
    }

    /// Resolves a traversal to the node named by its **longest** prefix that is a node
    /// in this graph; the rest of the traversal is the field path into that node's
    /// exports. (Upstream tries prefixes shortest first; node IDs never nest in valid
    /// configs, and longest-first is what our issue tracker specifies.)
    pub fn resolve<'t>(&self, traversal: &'t Traversal, src: &str) -> Option<Resolved<'t>> {
        let mut id = String::new();
        let mut found = None;
        for (i, part) in traversal.parts.iter().enumerate() {
            if i > 0 {
                id.push('.');
            }
            id.push_str(part.text(src));
            if let Some(&node) = self.by_id.get(&id) {
                found = Some(Resolved {
                    node,
                    fields: &traversal.parts[i + 1..],
                });
            }
        }
        found
    }

    /// Records that `dependant` uses something of `dependency` (once per pair).
    pub fn add_edge(&mut self, dependant: NodeIndex, dependency: NodeIndex) {
        if self.graph.find_edge(dependant, dependency).is_none() {
            self.graph.add_edge(dependant, dependency, ());
        }
    }

    /// Nodes that depend directly on `node`.
    pub fn dependants(&self, node: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph
            .edges_directed(node, Direction::Incoming)
            .map(|e| e.source())
    }

    /// Nodes `node` depends on directly.
    pub fn dependencies(&self, node: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph
            .edges_directed(node, Direction::Outgoing)
            .map(|e| e.target())
    }

    /// Every cycle: strongly connected sets of more than one node (members sorted by
    /// ID, sets ordered by their first member) and nodes that reference themselves.
    pub fn cycles(&self) -> Cycles {
        let mut sets: Vec<Vec<NodeIndex>> = tarjan_scc(&self.graph)
            .into_iter()
            .filter(|scc| scc.len() > 1)
            .map(|mut scc| {
                scc.sort_by(|a, b| self.graph[*a].id().cmp(self.graph[*b].id()));
                scc
            })
            .collect();
        sets.sort_by(|a, b| self.graph[a[0]].id().cmp(self.graph[b[0]].id()));
        let self_refs = self
            .graph
            .node_indices()
            .filter(|&n| self.graph.find_edge(n, n).is_some())
            .collect();
        Cycles { sets, self_refs }
    }

    /// All nodes, each after everything it depends on; `None` when there is a cycle.
    /// Ties keep insertion order, so evaluation order is stable across runs.
    pub fn dependency_order(&self) -> Option<Vec<NodeIndex>> {
        // Kahn's algorithm over "number of unevaluated dependencies".
        let mut pending: Vec<usize> = self
            .graph
            .node_indices()
            .map(|n| self.dependencies(n).count())
            .collect();
        let mut ready: std::collections::VecDeque<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|n| pending[n.index()] == 0)
            .collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(n) = ready.pop_front() {
            order.push(n);
            for d in self.dependants(n) {
                pending[d.index()] -= 1;
                if pending[d.index()] == 0 {
                    ready.push_back(d);
                }
            }
        }
        (order.len() == self.len()).then_some(order)
    }
}

/// The result of [`Graph::cycles`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cycles {
    pub sets: Vec<Vec<NodeIndex>>,
    pub self_refs: Vec<NodeIndex>,
}

impl Cycles {
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty() && self.self_refs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct N(&'static str);
    impl GraphNode for N {
        fn id(&self) -> &str {
            self.0
        }
    }

    fn graph(ids: &[&'static str], edges: &[(usize, usize)]) -> (Graph<N>, Vec<NodeIndex>) {
        let mut g = Graph::new();
        let idx: Vec<_> = ids.iter().map(|id| g.add(N(id)).unwrap()).collect();
        for &(a, b) in edges {
            g.add_edge(idx[a], idx[b]);
        }
        (g, idx)
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let mut g = Graph::new();
        let first = g.add(N("a.b")).unwrap();
        assert_eq!(g.add(N("a.b")), Err(first));
    }

    #[test]
    fn resolves_longest_node_prefix() {
        let (g, idx) = graph(&["prometheus.relabel.x", "prometheus.relabel.x.y"], &[]);
        let src = "prometheus.relabel.x.y.receiver";
        let (expr, _) = alloy_syntax::parse_expression("", src);
        let mut ts = Vec::new();
        crate::refs::expr_traversals(&expr, &mut ts);
        let r = g.resolve(&ts[0], src).unwrap();
        assert_eq!(r.node, idx[1]);
        let fields: Vec<_> = r.fields.iter().map(|f| f.text(src)).collect();
        assert_eq!(fields, ["receiver"]);
    }

    #[test]
    fn dependency_order_puts_dependencies_first() {
        // c depends on b depends on a; d independent.
        let (g, idx) = graph(&["c", "b", "a", "d"], &[(0, 1), (1, 2)]);
        let order = g.dependency_order().unwrap();
        let pos = |n: NodeIndex| order.iter().position(|&o| o == n).unwrap();
        assert!(pos(idx[2]) < pos(idx[1]) && pos(idx[1]) < pos(idx[0]));
        assert_eq!(order.len(), 4);
    }

    #[test]
    fn reports_every_cycle_and_self_reference() {
        let (g, idx) = graph(
            &["l2", "l1", "l3", "l4", "l5", "l6", "free"],
            &[(0, 1), (1, 0), (2, 3), (3, 4), (4, 2), (5, 5), (6, 0)],
        );
        let cycles = g.cycles();
        assert_eq!(
            cycles.sets,
            vec![vec![idx[1], idx[0]], vec![idx[2], idx[3], idx[4]]]
        );
        assert_eq!(cycles.self_refs, vec![idx[5]]);
        assert!(g.dependency_order().is_none());
    }
}
