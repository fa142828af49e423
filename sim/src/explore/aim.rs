//! Aimed children: a target drawn among the rarest sometimes properties (those no run has
//! reached yet first), an entry that holds it, and the edge that sets up another rare property
//! that entry lacks. Rare properties so pile up in the corpus's entries, and every child that
//! keeps such an entry's steps reaches all of them again.

use rand::Rng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;

use super::corpus::{Corpus, Entry};
use super::mutate;

/// The rarest properties an aimed child draws its target from (FairFuzz's rare-branch
/// targeting, which takes an input that reached a rare branch and mutates it so that it still
/// does).
pub const AIM_AMONG: usize = 4;

/// The rare properties an aimed child's parent is chosen to hold the most of.
pub const PILE_AMONG: usize = 12;

/// What an aimed child is made of.
pub struct Aim<'a> {
    /// An entry that reached the target, if any did.
    pub parent: Option<&'a Entry>,
    /// The rare properties whose edges the child tries, in this order, until one fits the run:
    /// the target where no entry holds it, else the four rarest with an edge that the parent
    /// lacks, shuffled (none where it holds them all).
    pub towards: Vec<&'static str>,
}

/// The `k` rarest properties: those an edge sets up ([`mutate::aimable`]) and those any run
/// reached, by how many runs reached them (none first), ties in name order.
pub fn rarest(corpus: &Corpus, k: usize) -> Vec<String> {
    let mut counts: Vec<(u64, String)> = mutate::aimable()
        .map(|p| format!("sometimes:{p}"))
        .filter(|f| !corpus.seen.contains_key(f))
        .map(|f| (0, f))
        .collect();
    counts.extend(
        corpus
            .seen
            .iter()
            .filter(|(f, n)| f.starts_with("sometimes:") && **n > 0)
            .map(|(f, n)| (*n, f.clone())),
    );
    counts.sort();
    counts.into_iter().take(k).map(|(_, f)| f).collect()
}

/// The aimable property a `sometimes:` feature names, if an edge sets it up.
fn aimable(feature: &str) -> Option<&'static str> {
    let name = feature.strip_prefix("sometimes:")?;
    mutate::aimable().find(|p| *p == name)
}

/// Draws an aimed child's parent and edge.
pub fn aim<'a>(corpus: &'a Corpus, rng: &mut SmallRng) -> Aim<'a> {
    let ranking = rarest(corpus, usize::MAX);
    let targets = &ranking[..AIM_AMONG.min(ranking.len())];
    let Some(target) = targets.get(rng.random_range(0..targets.len().max(1))) else {
        return Aim {
            parent: None,
            towards: Vec::new(),
        };
    };
    let holders: Vec<&Entry> = corpus
        .entries
        .iter()
        .filter(|e| e.features.contains_key(target))
        .collect();
    // The holder that reached the most of the rare properties, so they pile up in one line.
    let rare = &ranking[..PILE_AMONG.min(ranking.len())];
    let held = |e: &Entry| rare.iter().filter(|f| e.features.contains_key(*f)).count();
    let most = holders.iter().map(|e| held(e)).max().unwrap_or(0);
    let richest: Vec<&Entry> = holders.into_iter().filter(|e| held(e) == most).collect();
    let Some(parent) = richest
        .get(rng.random_range(0..richest.len().max(1)))
        .copied()
    else {
        let towards = aimable(target).into_iter().collect();
        return Aim {
            parent: None,
            towards,
        };
    };
    // The rarest aimable properties the parent lacks.
    let mut towards: Vec<&'static str> = ranking
        .iter()
        .filter(|f| !parent.features.contains_key(*f))
        .filter_map(|f| aimable(f))
        .take(AIM_AMONG)
        .collect();
    towards.shuffle(rng);
    Aim {
        parent: Some(parent),
        towards,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::corpus::Entry;
    use crate::explore::mutate::{bound_toward, sanitize};
    use crate::explore::search::run;
    use crate::scenario::Scenario;
    use rand::SeedableRng;

    /// A calm run: two clients, fixed latency, every link persistent.
    const PARENT: &str = "name: a parent\nseed: 3\nduration: 20s\n\
        network: { latency: 1ms..1ms }\nsteps:\n  - at: 1s\n    \
        iamat: { client: kiwi, server: Bailey, location: \"+34.1-118.4\" }\n  - at: 2s\n    \
        iamat: { client: lime, server: Bona, location: \"+1+1\" }\n";

    fn parent() -> Scenario {
        Scenario::from_yaml_str(PARENT, "parent.yaml").unwrap()
    }

    /// Seeds each edge is tried with: a torn write cuts a record only when the power goes
    /// while one is in flight.
    const SEEDS: u64 = 8;

    #[test]
    fn every_aimable_edge_reaches_its_property_and_a_correct_herd_passes() {
        let mut missed = Vec::new();
        for property in mutate::aimable() {
            let reached = (0..SEEDS).any(|seed| {
                let mut child = parent();
                let mut rng = SmallRng::seed_from_u64(seed);
                assert!(bound_toward(&mut child, &mut rng, property));
                sanitize(&mut child);
                let text = child.to_yaml(&[]);
                let child = Scenario::from_yaml_str(&text, "child.yaml").unwrap();
                let result = run(&child);
                assert_eq!(result.label, None, "{property}, seed {seed}:\n{text}");
                result
                    .features
                    .contains_key(&format!("sometimes:{property}"))
            });
            if !reached {
                missed.push(property);
            }
        }
        assert!(
            missed.is_empty(),
            "not reached in {SEEDS} seeds: {missed:?}"
        );
        assert!(!bound_toward(
            &mut parent(),
            &mut SmallRng::seed_from_u64(0),
            "limit_reached"
        ));
    }

    fn holding(name: &str, properties: &[&str]) -> Entry {
        Entry {
            name: name.into(),
            scenario: parent(),
            parent: None,
            features: properties
                .iter()
                .map(|p| (format!("sometimes:{p}"), std::time::Duration::ZERO))
                .collect(),
            branch_points: Vec::new(),
        }
    }

    #[test]
    fn the_rarest_are_the_unreached_aimable_ones_first_and_an_aim_adds_what_its_parent_lacks() {
        let mut corpus = Corpus::default();
        let everything: Vec<&str> = mutate::aimable().collect();
        let (reached, unreached) = everything.split_at(everything.len() - 2);
        let all = holding("all", reached);
        corpus.observe(&all.features);
        corpus.add(all);
        let rarest = rarest(&corpus, AIM_AMONG);
        assert_eq!(
            rarest[..2],
            unreached
                .iter()
                .map(|p| format!("sometimes:{p}"))
                .collect::<Vec<_>>()
        );
        for seed in 0..20 {
            let aim = aim(&corpus, &mut SmallRng::seed_from_u64(seed));
            assert!(!aim.towards.is_empty());
            let toward = aim.towards[0];
            match aim.parent {
                // A target no entry holds: its own edge.
                None => assert!(unreached.contains(&toward), "{toward}"),
                // The parent holds the target: the edge is toward one it lacks.
                Some(entry) => {
                    assert_eq!(entry.name, "all");
                    assert!(unreached.contains(&toward), "{toward}");
                }
            }
        }
    }
}
