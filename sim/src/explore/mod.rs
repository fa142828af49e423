//! `sim explore`: a coverage-guided search over scenarios. Where the swarm draws every seed
//! afresh, the explorer keeps every run that reached a feature no run had reached before
//! ([`features`], with [`values`]: how close a run came to a bound or a rare value) in a
//! corpus of plain scenario files ([`corpus`]), and makes children of them ([`mutate`]): it
//! branches at the moment something new happened, splices, moves steps, retargets them, sets
//! values exactly at the bounds of `Limits` and adds a rare value to an entry that has one.
//! Entries that reached rare features get more children; with `--aim`, a share of them is
//! aimed at the rarest sometimes properties ([`aim`]). [`search`] runs the loop on the
//! swarm's pool; [`report`] compares it with the swarm on the same budget.
//!
//! Layer: over many runs, beside [`crate::swarm`] (whose generator, pool and shrinking it uses).

pub mod aim;
pub mod compound;
pub mod corpus;
pub mod disk;
pub mod features;
pub mod herd_bounds;
pub mod mutate;
pub mod pick;
pub mod rare;
pub mod report;
pub mod search;
pub mod values;

pub use corpus::Corpus;
pub use search::{Settings, Strategy, Summary, search};
