//! The swarm's coverage table: for each "sometimes" property ([`crate::sometimes`]), how many
//! seeds showed it and the first that did, and which required ones no seed showed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::sometimes::Property;

/// Seeds that showed a property: how many, and the smallest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hits {
    pub seeds: usize,
    pub first_seed: Option<u64>,
}

/// Every property's hits over a set of seeds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    pub hits: BTreeMap<Property, Hits>,
}

impl Coverage {
    /// Tallies `(seed, properties it showed)` pairs, in any order.
    pub fn tally<'a>(seeds: impl IntoIterator<Item = (u64, &'a BTreeSet<Property>)>) -> Coverage {
        let mut hits: BTreeMap<Property, Hits> = Property::ALL
            .into_iter()
            .map(|p| (p, Hits::default()))
            .collect();
        for (seed, seen) in seeds {
            for property in seen {
                let entry = hits.entry(*property).or_default();
                entry.seeds += 1;
                entry.first_seed = Some(entry.first_seed.map_or(seed, |first| first.min(seed)));
            }
        }
        Coverage { hits }
    }

    /// The required properties no seed showed, in table order.
    pub fn missing_required(&self) -> Vec<Property> {
        Property::ALL
            .into_iter()
            .filter(|p| p.required() && self.hits.get(p).is_none_or(|h| h.seeds == 0))
            .collect()
    }

    /// The table `sim swarm` prints after its summary.
    pub fn table(&self, seeds_run: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "== coverage: sometimes properties over {seeds_run} seeds"
        );
        let _ = writeln!(
            out,
            "{:<28} {:>6}  {:>10}  what",
            "property", "seeds", "first seed"
        );
        for property in Property::ALL {
            let hits = self.hits.get(&property).copied().unwrap_or_default();
            let first = hits
                .first_seed
                .map_or_else(|| "NEVER".to_string(), |s| s.to_string());
            let _ = writeln!(
                out,
                "{:<28} {:>6}  {:>10}  {}",
                property.as_str(),
                hits.seeds,
                first,
                property.what()
            );
        }
        let missing = self.missing_required();
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|p| p.as_str()).collect();
            let _ = writeln!(out, "never hit (required): {}", names.join(", "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_count_seeds_and_keep_the_smallest_seed_whatever_the_order() {
        let tie: BTreeSet<Property> = [Property::TieBrokenByOrigin].into();
        let both: BTreeSet<Property> = [Property::TieBrokenByOrigin, Property::LimitReached].into();
        let coverage = Coverage::tally([(9, &tie), (4, &both), (7, &BTreeSet::new())]);
        assert_eq!(
            coverage.hits[&Property::TieBrokenByOrigin],
            Hits {
                seeds: 2,
                first_seed: Some(4)
            }
        );
        assert_eq!(coverage.hits[&Property::LimitReached].first_seed, Some(4));
        assert_eq!(coverage.hits[&Property::OnewayStaleRead].seeds, 0);
    }

    #[test]
    fn a_never_hit_property_is_missing_and_named_in_the_table() {
        let all: BTreeSet<Property> = Property::ALL.into_iter().collect();
        let coverage = Coverage::tally([(1, &all)]);
        assert!(coverage.missing_required().is_empty());
        assert!(!coverage.table(1).contains("never hit"));

        let some: BTreeSet<Property> = [Property::LimitReached].into();
        let coverage = Coverage::tally([(1, &some)]);
        assert!(
            coverage
                .missing_required()
                .contains(&Property::OnewayStaleRead)
        );
        let table = coverage.table(1);
        assert!(table.contains("never hit (required): "), "{table}");
        assert!(table.contains("oneway_stale_read"), "{table}");
        assert!(!table.contains("required): limit_reached"), "{table}");
    }
}
