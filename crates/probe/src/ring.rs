//! Neighbour selection on a sha256 ring of node names, exactly as kubenurse v1.15 does it.
//!
//! Every node name is hashed (first 8 bytes of its sha256, big-endian); a node checks the
//! `limit` nodes that follow it on the ring, i.e. those whose hash minus its own hash
//! (wrapping) is smallest. The choice depends only on the set of node names, so it is stable
//! (metrics do not churn), spread independently of how nodes are named, and every node is
//! checked by exactly `limit` others — its `limit` predecessors on the ring, which is how a
//! node knows whose checks it should be receiving.

use std::collections::HashSet;

/// The ring position of a node name: the first 8 bytes of sha256(name), big-endian.
pub fn node_hash(name: &str) -> u64 {
    let digest = ring::digest::digest(&ring::digest::SHA256, name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(first)
}

/// Distance from `from` to `to` going forward on the ring.
fn forward(from: u64, to: u64) -> u64 {
    to.wrapping_sub(from)
}

/// The `limit` items following `self_node` on the ring, nearest first. `limit == 0` means
/// no limit (every item, ring order). Items on `self_node` itself are never returned.
///
/// `node_of` gives an item's node name. Cost: O(n log n) for n items.
pub fn successors<'a, T>(
    self_node: &str,
    items: &'a [T],
    limit: usize,
    node_of: impl Fn(&T) -> &str,
) -> Vec<&'a T> {
    let me = node_hash(self_node);
    let mut keyed: Vec<(u64, &str, &T)> = items
        .iter()
        .filter(|i| node_of(i) != self_node)
        .map(|i| (forward(me, node_hash(node_of(i))), node_of(i), i))
        .collect();
    // The name breaks (astronomically unlikely) hash ties, so the order is total.
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    let take = if limit == 0 { keyed.len() } else { limit };
    keyed.into_iter().take(take).map(|(_, _, i)| i).collect()
}

/// The nodes that should be checking `self_node`: those among `nodes` whose own
/// [`successors`] (with the same `limit`, over the same node set) include it. With every node
/// on the same set this is its `limit` predecessors on the ring, nearest first.
pub fn watchers(self_node: &str, nodes: &[String], limit: usize) -> Vec<String> {
    let mut unique: Vec<&str> = nodes.iter().map(String::as_str).collect();
    unique.sort_unstable();
    unique.dedup();
    if !unique.contains(&self_node) {
        unique.push(self_node);
    }
    let me = node_hash(self_node);
    // Backwards distance: how far each node is behind us.
    let mut keyed: Vec<(u64, &str)> = unique
        .iter()
        .filter(|n| **n != self_node)
        .map(|n| (forward(node_hash(n), me), *n))
        .collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    if limit == 0 || keyed.len() <= limit {
        return keyed.into_iter().map(|(_, n)| n.to_string()).collect();
    }
    // A node W checks us iff fewer than `limit` nodes lie strictly between W and us going
    // forward from W. Walking predecessors nearest first, the k-th one (0-based) has exactly
    // k nodes between it and us, so the first `limit` predecessors are the watchers.
    keyed
        .into_iter()
        .take(limit)
        .map(|(_, n)| n.to_string())
        .collect()
}

/// Deterministic subset of at most `limit` items for `self_node`: its successors on the ring
/// of `key_of(item)` hashes. Used to spread a bounded per-node probe budget (DNS replicas)
/// so that the nodes together cover every item.
pub fn spread<'a, T>(
    self_node: &str,
    items: &'a [T],
    limit: usize,
    key_of: impl Fn(&T) -> &str,
) -> Vec<&'a T> {
    if limit == 0 || items.len() <= limit {
        return items.iter().collect();
    }
    let me = node_hash(self_node);
    let mut keyed: Vec<(u64, &str, &T)> = items
        .iter()
        .map(|i| (forward(me, node_hash(key_of(i))), key_of(i), i))
        .collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    let mut seen = HashSet::new();
    keyed
        .into_iter()
        .filter(|(_, k, _)| seen.insert(*k))
        .take(limit)
        .map(|(_, _, i)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("node-{i}")).collect()
    }

    #[test]
    fn hash_is_sha256_prefix() {
        // sha256("") = e3b0c44298fc1c14...; sha256("node-a") checked against `sha256sum`.
        assert_eq!(node_hash(""), 0xe3b0_c442_98fc_1c14);
        assert_eq!(node_hash("abc"), 0xba78_16bf_8f01_cfea);
    }

    /// kubenurse's filterNeighbours: adjusted hash = hash(n) - hash(self) (wrapping), keep the
    /// `limit` smallest. Written out independently here to pin the parity.
    fn kubenurse_filter(self_node: &str, nodes: &[String], limit: usize) -> Vec<String> {
        let me = node_hash(self_node);
        let mut adj: Vec<(u64, &String)> = nodes
            .iter()
            .filter(|n| n.as_str() != self_node)
            .map(|n| (node_hash(n).wrapping_sub(me), n))
            .collect();
        adj.sort();
        let mut out: Vec<String> = adj
            .into_iter()
            .take(limit)
            .map(|(_, n)| n.clone())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn successors_match_kubenurse() {
        let nodes = names(40);
        for me in &nodes {
            let mut ours: Vec<String> = successors(me, &nodes, 10, |n| n.as_str())
                .into_iter()
                .cloned()
                .collect();
            ours.sort();
            assert_eq!(ours, kubenurse_filter(me, &nodes, 10), "node {me}");
        }
    }

    #[test]
    fn every_node_is_checked_by_exactly_limit_others_and_watchers_agree() {
        let nodes = names(57);
        let limit = 5;
        let mut checked_by: std::collections::HashMap<&str, Vec<String>> = Default::default();
        for me in &nodes {
            let succ = successors(me, &nodes, limit, |n| n.as_str());
            assert_eq!(succ.len(), limit);
            for s in succ {
                checked_by.entry(s.as_str()).or_default().push(me.clone());
            }
        }
        for me in &nodes {
            let mut expected = checked_by.remove(me.as_str()).unwrap_or_default();
            expected.sort();
            let mut w = watchers(me, &nodes, limit);
            w.sort();
            assert_eq!(w, expected, "watchers of {me}");
            assert_eq!(w.len(), limit);
        }
    }

    #[test]
    fn small_clusters_and_no_limit() {
        let nodes = names(3);
        assert_eq!(successors("node-0", &nodes, 10, |n| n.as_str()).len(), 2);
        assert_eq!(watchers("node-0", &nodes, 10).len(), 2);
        assert_eq!(successors("node-0", &nodes, 0, |n| n.as_str()).len(), 2);
        assert_eq!(watchers("node-0", &nodes, 0).len(), 2);
        // A node not in the list still gets watchers (it is counted on the ring).
        assert_eq!(watchers("elsewhere", &nodes, 2).len(), 2);
        assert!(successors("x", &[] as &[String], 3, |n| n.as_str()).is_empty());
    }

    #[test]
    fn selection_is_stable_when_an_unrelated_node_leaves() {
        let nodes = names(30);
        let me = "node-7";
        let before: Vec<String> = successors(me, &nodes, 4, |n| n.as_str())
            .into_iter()
            .cloned()
            .collect();
        // Remove a node that was not selected: the selection does not change.
        let gone = nodes
            .iter()
            .find(|n| n.as_str() != me && !before.contains(n))
            .unwrap()
            .clone();
        let fewer: Vec<String> = nodes.into_iter().filter(|n| *n != gone).collect();
        let after: Vec<String> = successors(me, &fewer, 4, |n| n.as_str())
            .into_iter()
            .cloned()
            .collect();
        assert_eq!(before, after);
    }

    #[test]
    fn spread_covers_every_item_across_nodes() {
        let items: Vec<String> = (0..200)
            .map(|i| format!("10.0.{}.{}", i / 250, i % 250))
            .collect();
        let nodes = names(50);
        let mut covered = HashSet::new();
        for n in &nodes {
            let picked = spread(n, &items, 8, |s| s.as_str());
            assert_eq!(picked.len(), 8);
            covered.extend(picked.into_iter().cloned());
        }
        // 50 nodes × 8 = 400 picks over 200 items: most are covered (not a guarantee, a spread).
        assert!(covered.len() > 100, "covered {}", covered.len());
        assert_eq!(spread("node-1", &items[..5], 8, |s| s.as_str()).len(), 5);
    }
}
