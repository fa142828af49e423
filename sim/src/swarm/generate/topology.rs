//! The herd's shape as the generator reads it: whether persistent links connect every server,
//! and the two groups a partition cuts apart.

use std::collections::BTreeSet;

use rand::Rng;
use rand::rngs::SmallRng;
use server::config::Herd;

/// Whether the herd's persistent links, without link `except`, connect every server.
pub fn persistent_connected(herd: &Herd, except: Option<usize>) -> bool {
    let Some(first) = herd.servers.first() else {
        return true;
    };
    let mut reached: BTreeSet<&str> = BTreeSet::from([first.name.as_str()]);
    let mut frontier = vec![first.name.as_str()];
    while let Some(server) = frontier.pop() {
        for (i, link) in herd.links.iter().enumerate() {
            if link.classic || Some(i) == except || !link.between.iter().any(|s| s == server) {
                continue;
            }
            for other in &link.between {
                if reached.insert(other.as_str()) {
                    frontier.push(other.as_str());
                }
            }
        }
    }
    herd.servers
        .iter()
        .all(|s| reached.contains(s.name.as_str()))
}

/// Two groups to partition: a random proper subset against the rest, or one server against
/// its neighbours.
pub(super) fn split(
    rng: &mut SmallRng,
    herd: &Herd,
    servers: &[String],
) -> (Vec<String>, Vec<String>) {
    let one = servers[rng.random_range(0..servers.len())].clone();
    let neighbours: Vec<String> = herd.neighbours(&one).into_iter().map(|n| n.name).collect();
    if rng.random_bool(0.5) && !neighbours.is_empty() {
        return (vec![one], neighbours);
    }
    let mut a = Vec::new();
    let mut b = Vec::new();
    for s in servers {
        if rng.random_bool(0.5) {
            a.push(s.clone())
        } else {
            b.push(s.clone())
        }
    }
    if a.is_empty() || b.is_empty() {
        let rest: Vec<String> = servers.iter().filter(|s| **s != one).cloned().collect();
        return (vec![one], rest);
    }
    (a, b)
}
