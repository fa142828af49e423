//! Aimed children: a target drawn among the rarest of the properties an edge sets up (those
//! no run has reached yet first), the entry that holds it and the most of the others, and the
//! edge that sets up another rare property that entry lacks. Rare properties so pile up in one
//! line of entries, and every child that keeps such an entry's steps reaches all of them again.
//! A target no edge sets up is brought to that line by a union with a holder's steps.

use rand::Rng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;

use super::corpus::{Corpus, Entry};
use super::mutate;

/// The rarest properties an aimed child draws its target from (FairFuzz's rare-branch
/// targeting, which takes an input that reached a rare branch and mutates it so that it still
/// does).
pub const AIM_AMONG: usize = 4;

/// One aimed child in this many draws its target among the rarest properties any run reached,
/// with an edge or not: the children of their holders keep them. Drawn only among the
/// properties an edge sets up, the others (link tampering, a classic forgery, a Places
/// timeout) were left to the unaimed children and came up 2 to 5 times less often than in the
/// swarm; one in four left three of the twelve rarest just under 10 times the swarm's rate
/// (docs/explore.md).
pub const ANY_TARGET_ONE_IN: u32 = 8;

/// The rare properties an aimed child's parent is chosen to hold the most of.
pub const PILE_AMONG: usize = 12;

/// Of the aimed children whose target no edge sets up, one in this many is a **union**: the
/// entry holding the most of the rarest, with every step of a holder of the target besides
/// (its moment unknown). The others are children of the holder, as before: a target that
/// needs its holder's herd (a classic link; a pile never has one, as disk faults need
/// persistent links) is reached only that way.
pub const UNION_ONE_IN: u32 = 2;

/// What an aimed child is made of.
pub struct Aim<'a> {
    /// An entry that reached the target, if any did.
    pub parent: Option<&'a Entry>,
    /// The rare properties whose edges the child tries, in this order, until one fits the run:
    /// the target where no entry holds it, else the four rarest with an edge that the parent
    /// lacks, shuffled (none where it holds them all).
    pub towards: Vec<&'static str>,
    /// A holder of a target no edge sets up, whose steps the child takes besides its
    /// parent's ([`UNION_ONE_IN`]).
    pub donor: Option<&'a Entry>,
}

/// The `k` rarest of the properties an edge sets up ([`mutate::aimable`]), as `sometimes:`
/// features, by how many runs reached them (none first), ties in name order. Only these: a
/// property no edge sets up cannot be added to an entry, and where the aim drew such targets
/// too, its children went to entries that hold few of the others and the pile stalled.
pub fn rarest(corpus: &Corpus, k: usize) -> Vec<String> {
    let mut counts: Vec<(u64, String)> = mutate::aimable()
        .map(|p| format!("sometimes:{p}"))
        .map(|f| (corpus.seen.get(&f).copied().unwrap_or(0), f))
        .collect();
    counts.sort();
    counts.into_iter().take(k).map(|(_, f)| f).collect()
}

/// The `k` rarest sometimes properties that some run reached, edge or not, as [`rarest`]
/// ranks them.
fn rarest_reached(corpus: &Corpus, k: usize) -> Vec<String> {
    let mut counts: Vec<(u64, &String)> = corpus
        .seen
        .iter()
        .filter(|(f, n)| f.starts_with("sometimes:") && **n > 0)
        .map(|(f, n)| (*n, f))
        .collect();
    counts.sort();
    counts.into_iter().take(k).map(|(_, f)| f.clone()).collect()
}

/// Whether a run holds more of the [`PILE_AMONG`] rarest properties than any entry does: a new
/// height of the pile, kept even where the run reached no new feature, so that the next aimed
/// child starts from it and adds the next one (else the run that first holds ten of them at
/// once is dropped as nothing new, and the pile never grows past what single features keep).
pub fn piles_higher(corpus: &Corpus, features: &super::features::Features) -> bool {
    let rare = rarest(corpus, PILE_AMONG);
    let held = |f: &super::features::Features| rare.iter().filter(|p| f.contains_key(*p)).count();
    let height = corpus.entries.iter().map(|e| held(&e.features)).max();
    held(features) > height.unwrap_or(0)
}

/// The aimable property a `sometimes:` feature names, if an edge sets it up.
fn aimable(feature: &str) -> Option<&'static str> {
    let name = feature.strip_prefix("sometimes:")?;
    mutate::aimable().find(|p| *p == name)
}

/// Draws an aimed child's parent and edge.
pub fn aim<'a>(corpus: &'a Corpus, rng: &mut SmallRng) -> Aim<'a> {
    let ranking = rarest(corpus, usize::MAX);
    let targets = match rng.random_range(0..ANY_TARGET_ONE_IN) {
        0 => rarest_reached(corpus, AIM_AMONG),
        _ => ranking[..AIM_AMONG.min(ranking.len())].to_vec(),
    };
    let Some(target) = targets.get(rng.random_range(0..targets.len().max(1))) else {
        return Aim {
            parent: None,
            towards: Vec::new(),
            donor: None,
        };
    };
    let mut holders: Vec<&Entry> = corpus
        .entries
        .iter()
        .filter(|e| e.features.contains_key(target))
        .collect();
    let rare = &ranking[..PILE_AMONG.min(ranking.len())];
    let held = |e: &Entry| rare.iter().filter(|f| e.features.contains_key(*f)).count();
    // A target no edge sets up, in a union: the pile, with a holder's steps besides.
    let mut donor = None;
    if aimable(target).is_none() && !holders.is_empty() && rng.random_range(0..UNION_ONE_IN) == 0 {
        donor = Some(holders[rng.random_range(0..holders.len())]);
        holders = corpus.entries.iter().collect();
    }
    // The holder that reached the most of the rare properties, so they pile up in one line.
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
            donor: None,
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
        donor: donor.filter(|d| d.name != parent.name),
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

    #[test]
    fn a_whole_herd_power_cut_finds_the_moments_when_every_server_is_up() {
        // Bailey is down from 2.5 s to 6.5 s of a chaos phase that ends at 10 s: a cut of the
        // whole herd fits only in its first second and a half and its last three seconds.
        let outage = "  - at: 2.5s\n    crash: Bailey\n  - at: 6.5s\n    restart: Bailey\n";
        let text = format!("{PARENT}{outage}");
        let fits = (0..20)
            .filter(|&seed| {
                let mut child = Scenario::from_yaml_str(&text, "parent.yaml").unwrap();
                let rng = &mut SmallRng::seed_from_u64(seed);
                bound_toward(&mut child, rng, "herd_power_cut")
            })
            .count();
        assert!(fits >= 16, "the cut fitted {fits} of 20 children");
    }

    #[test]
    fn a_run_holding_more_of_the_rarest_than_any_entry_is_a_new_height_of_the_pile() {
        let everything: Vec<&str> = mutate::aimable().collect();
        let (rare, common) = everything.split_at(PILE_AMONG);
        let mut corpus = Corpus::default();
        // Runs that reached every aimable property once, and those past the twelve rarest
        // ten times more.
        corpus.observe(&holding("all", &everything).features);
        for _ in 0..10 {
            corpus.observe(&holding("common", common).features);
        }
        let two = holding("two", &rare[..2]);
        corpus.observe(&two.features);
        corpus.add(two);
        assert!(piles_higher(&corpus, &holding("", &rare[..3]).features));
        let other_two = holding("", &rare[2..4]).features;
        assert!(!piles_higher(&corpus, &other_two), "as high, not higher");
        // Neither a common property nor one no edge sets up raises the pile.
        let mut with_common = holding("", &[rare[0], rare[1], common[0]]).features;
        with_common.insert("sometimes:link_altered".into(), std::time::Duration::ZERO);
        assert!(!piles_higher(&corpus, &with_common));
    }

    #[test]
    fn a_target_no_edge_sets_up_is_given_to_the_pile_by_a_union_half_the_time() {
        let everything: Vec<&str> = mutate::aimable().collect();
        let mut corpus = Corpus::default();
        let pile = holding("pile", &everything[..PILE_AMONG]);
        let mut holder = holding("holder", &[]);
        holder.features.insert(
            "sometimes:places_timeout_answered".into(),
            std::time::Duration::ZERO,
        );
        // The pile's properties were reached by more runs than the holder's.
        for _ in 0..3 {
            corpus.observe(&pile.features);
        }
        corpus.observe(&holder.features);
        corpus.add(pile);
        corpus.add(holder);
        let (mut unions, mut of_holder) = (0, 0);
        for seed in 0..2000 {
            let aim = aim(&corpus, &mut SmallRng::seed_from_u64(seed));
            match (aim.parent.map(|p| p.name.as_str()), aim.donor) {
                (Some("pile"), Some(donor)) => {
                    assert_eq!(donor.name, "holder");
                    unions += 1;
                }
                (Some("holder"), None) => of_holder += 1,
                (_, Some(donor)) => panic!("a union with {} as its donor", donor.name),
                _ => {}
            }
        }
        // The target is drawn among the four rarest reached in one aim of ANY_TARGET_ONE_IN,
        // and is a union in one of UNION_ONE_IN of those: about 31 each in 2000.
        assert!((15..=50).contains(&unions), "{unions} unions");
        assert!(
            (15..=50).contains(&of_holder),
            "{of_holder} children of the holder"
        );
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
        let mut all = holding("all", reached);
        // Rarer than any, but no edge sets it up: never ranked.
        let no_edge = "sometimes:link_altered".to_string();
        all.features
            .insert(no_edge.clone(), std::time::Duration::ZERO);
        corpus.observe(&all.features);
        corpus.add(all);
        assert!(!rarest(&corpus, usize::MAX).contains(&no_edge));
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
