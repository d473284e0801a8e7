//! The 512-token consistent-hash ring of grafana/ckit (CLUSTERING.md §5–§6), bit for
//! bit: node tokens are the running xxHash64 of the node name followed by the bytes
//! 0, 1, … (mod 256); a key belongs to the first token at or above it, wrapping; equal
//! tokens order by node name. Target keys hash the non-`__meta_` labels in
//! Prometheus' `StableHash` layout.

use xxhash_rust::xxh64::Xxh64;

/// Tokens per node, as upstream's `Ring(512)`.
pub const TOKENS_PER_NODE: usize = 512;

/// The tokens of node `name`, in generation order.
pub fn tokens(name: &str) -> impl Iterator<Item = u64> {
    let mut digest = Xxh64::new(0);
    digest.update(name.as_bytes());
    (0..TOKENS_PER_NODE).map(move |t| {
        digest.update(&[(t % 256) as u8]);
        digest.digest()
    })
}

/// A ring over a set of node names.
#[derive(Debug, Clone, Default)]
pub struct Ring {
    names: Vec<String>,
    /// (token, index into `names`), sorted by token then name.
    tokens: Vec<(u64, u32)>,
}

impl Ring {
    pub fn new<S: Into<String>>(nodes: impl IntoIterator<Item = S>) -> Ring {
        let mut names: Vec<String> = nodes.into_iter().map(Into::into).collect();
        names.sort();
        names.dedup();
        let mut tokens = Vec::with_capacity(names.len() * TOKENS_PER_NODE);
        for (i, name) in names.iter().enumerate() {
            tokens.extend(tokens_of(name, i));
        }
        // `names` is sorted, so ordering ties by index orders them by name.
        tokens.sort_unstable();
        Ring { names, tokens }
    }

    /// The member names, sorted.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The `n` distinct owners of `key`, primary first.
    pub fn lookup(&self, key: u64, n: usize) -> Result<Vec<&str>, String> {
        if n > self.names.len() {
            return Err(format!(
                "not enough nodes: need at least {n}, have {}",
                self.names.len()
            ));
        }
        let mut owners: Vec<&str> = Vec::with_capacity(n);
        if n == 0 {
            return Ok(owners);
        }
        let start = self.tokens.partition_point(|&(t, _)| t < key);
        for i in 0..self.tokens.len() {
            let (_, node) = self.tokens[(start + i) % self.tokens.len()];
            let name = self.names[node as usize].as_str();
            if !owners.contains(&name) {
                owners.push(name);
                if owners.len() == n {
                    break;
                }
            }
        }
        Ok(owners)
    }
}

impl Ring {
    /// The token that decides `key`'s primary owner, and that owner: the first token
    /// at or above the key, wrapping. `None` on an empty ring.
    pub fn owner_token(&self, key: u64) -> Option<(u64, &str)> {
        if self.tokens.is_empty() {
            return None;
        }
        let i = self.tokens.partition_point(|&(t, _)| t < key) % self.tokens.len();
        let (token, node) = self.tokens[i];
        Some((token, self.names[node as usize].as_str()))
    }
}

fn tokens_of(name: &str, index: usize) -> impl Iterator<Item = (u64, u32)> + '_ {
    tokens(name).map(move |t| (t, index as u32))
}

/// The ring key of a target: xxHash64 over its labels not starting with `__meta_`,
/// sorted by name, each written as name, 0xFF, value, 0xFF.
pub fn target_key<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut sorted: Vec<(&str, &str)> = labels
        .into_iter()
        .filter(|(name, _)| !name.starts_with("__meta_"))
        .collect();
    sorted.sort_unstable();
    let mut digest = Xxh64::new(0);
    for (name, value) in sorted {
        digest.update(name.as_bytes());
        digest.update(&[0xFF]);
        digest.update(value.as_bytes());
        digest.update(&[0xFF]);
    }
    digest.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_wrap_and_refuse_too_many_owners() {
        let ring = Ring::new(["b", "a"]);
        assert_eq!(ring.lookup(0, 0).unwrap(), Vec::<&str>::new());
        assert_eq!(ring.lookup(u64::MAX, 2).unwrap().len(), 2);
        assert_eq!(
            ring.lookup(1, 3).unwrap_err(),
            "not enough nodes: need at least 3, have 2"
        );
        assert!(Ring::new(Vec::<String>::new()).lookup(1, 1).is_err());
    }
}
