//! The search loop: children drawn from the corpus (or fresh swarm seeds), run in batches on
//! the swarm's pool, and kept when they reach a feature no run had reached. A batch is made
//! from the corpus as it stood before the batch and its results are taken in order, so a
//! search seed and a run budget give the same runs whatever `--jobs` is.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use server::config::Herd;

use crate::checkers::RunRecord;
use crate::herd_corpus;
use crate::outcome::Outcome;
use crate::report;
use crate::scenario::Scenario;
use crate::swarm::{self, Base, pool};

use super::corpus::{self, Corpus, Entry};
use super::features::{self, Features};
use super::mutate::{self, Mutation};

/// Children per batch. Fixed, not `--jobs`, so the runs of a search seed do not depend on how
/// many threads ran them.
pub const BATCH: usize = 8;

/// A fresh swarm draw instead of a child, this often (in percent) once the corpus has entries.
const FRESH_PERCENT: u32 = 15;

/// What drives the runs: children of the corpus, or the swarm's independent seeds (the
/// baseline the explorer is measured against).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Explore,
    Swarm,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Explore => "explore",
            Strategy::Swarm => "swarm",
        }
    }
}

/// A search's budget and knobs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub strategy: Strategy,
    pub search_seed: u64,
    pub runs_max: usize,
    pub time_max: Option<Duration>,
    pub jobs: usize,
    /// Stop at the first failure whose `class/checker` label starts with this.
    pub until: Option<String>,
    /// Where new corpus entries are written as they are found.
    pub corpus_dir: Option<PathBuf>,
    /// Percent of the children (fresh draws aside) aimed at one of the rarest sometimes
    /// properties ([`super::aim`]).
    pub aim_percent: u32,
}

/// How one run ended and what it reached.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub outcome: Outcome,
    pub label: Option<String>,
    pub features: Features,
}

/// A failure the search found: the first run of its label.
#[derive(Debug, Clone)]
pub struct Found {
    pub label: String,
    pub outcome: Outcome,
    /// 1-based: the run that found it.
    pub run: usize,
    pub runs_failed: usize,
    pub scenario: Scenario,
}

/// Where a search stood after a batch, for the progress line.
#[derive(Debug, Clone)]
pub struct Status {
    pub runs: usize,
    pub corpus: usize,
    pub features: usize,
    pub last_new: Option<String>,
    pub failures: usize,
    pub elapsed: Duration,
}

/// What a search did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub strategy: Strategy,
    pub runs: usize,
    /// Children the scenario's validation refused (not run, not counted in `runs`).
    pub discarded: usize,
    /// (runs, features reached) after every batch.
    pub history: Vec<(usize, usize)>,
    pub failures: Vec<Found>,
    /// 1-based: the run whose failure stopped the search (`until`), a canary's own failure
    /// when the runs have one.
    pub stopped_at: Option<usize>,
    pub corpus: Corpus,
    pub wall: Duration,
}

/// Runs a scenario and reads its features.
pub fn run(scenario: &Scenario) -> RunResult {
    let judged = report::run_and_judge(scenario);
    let outcome = judged.outcome();
    let record = RunRecord::new(
        scenario,
        &judged.run.trace,
        judged.run.end,
        judged.run.final_tables.clone(),
    );
    RunResult {
        outcome,
        label: outcome.label(),
        features: features::features(&record),
    }
}

/// The swarm seed a baseline search runs as its `i`th run: `sim swarm --seeds N` replays it.
pub fn swarm_seed(search_seed: u64, i: usize) -> u64 {
    (search_seed << 32) | i as u64
}

/// Explores (or runs the swarm baseline) from `corpus` until the budget is spent.
pub fn search(
    base: &Base,
    settings: &Settings,
    mut corpus: Corpus,
    progress: &(dyn Fn(&Status) + Sync),
) -> Summary {
    let started = Instant::now();
    let mut rng = SmallRng::seed_from_u64(settings.search_seed ^ 0xE8_9104E);
    let mut summary = Summary {
        strategy: settings.strategy,
        runs: 0,
        discarded: 0,
        history: vec![(0, corpus.feature_count())],
        failures: Vec::new(),
        stopped_at: None,
        corpus: Corpus::default(),
        wall: Duration::ZERO,
    };
    let mut last_new = None;
    let mut drawn = 0usize;
    'batches: while summary.runs < settings.runs_max
        && settings.time_max.is_none_or(|t| started.elapsed() < t)
    {
        let want = BATCH.min(settings.runs_max - summary.runs);
        let mut children: Vec<Child> = Vec::new();
        while children.len() < want {
            let child = match settings.strategy {
                Strategy::Swarm => {
                    drawn += 1;
                    swarm::scenario_for(swarm_seed(settings.search_seed, drawn - 1), base).map(
                        |scenario| Child {
                            scenario,
                            parent: None,
                            herd_fault: None,
                        },
                    )
                }
                Strategy::Explore => child(base, &corpus, settings.aim_percent, &mut rng),
            };
            match child {
                Ok(child) => {
                    if let Some(parent) = &child.parent {
                        corpus.child_of(parent);
                    }
                    children.push(child)
                }
                Err(_) => summary.discarded += 1,
            }
        }
        let results = pool::parallel_map(&children, settings.jobs, &Child::run, &|_| {});
        for (child, result) in children.into_iter().zip(results) {
            let Child {
                scenario,
                parent,
                herd_fault,
            } = child;
            if result.outcome == Outcome::BadScenario {
                summary.discarded += 1;
                continue;
            }
            summary.runs += 1;
            let piled = settings.strategy == Strategy::Explore
                && settings.aim_percent > 0
                && super::aim::piles_higher(&corpus, &result.features);
            let new = corpus.observe(&result.features);
            if let Some(label) = result.label.clone() {
                let failed = summary.failures.iter_mut().find(|f| f.label == label);
                match failed {
                    Some(found) => found.runs_failed += 1,
                    None => {
                        if let Some(dir) = &settings.corpus_dir {
                            write_failure(dir, &scenario, &label, summary.runs);
                            if let Some(fault) = &herd_fault {
                                write_herd_failure(dir, fault, summary.runs);
                            }
                        }
                        summary.failures.push(Found {
                            label: label.clone(),
                            outcome: result.outcome,
                            run: summary.runs,
                            runs_failed: 1,
                            scenario: scenario.clone(),
                        })
                    }
                }
                if settings
                    .until
                    .as_deref()
                    .is_some_and(|u| label.starts_with(u) && the_canarys(&scenario, u))
                {
                    summary.stopped_at = Some(summary.runs);
                    summary.history.push((summary.runs, corpus.feature_count()));
                    break 'batches;
                }
            } else if (!new.is_empty() || piled) && settings.strategy == Strategy::Explore {
                if let Some((feature, _)) = new.first() {
                    last_new = Some(feature.clone());
                }
                keep(&mut corpus, settings, scenario, parent, &result, &new);
            }
        }
        summary.history.push((summary.runs, corpus.feature_count()));
        progress(&Status {
            runs: summary.runs,
            corpus: corpus.entries.len(),
            features: corpus.feature_count(),
            last_new: last_new.clone(),
            failures: summary.failures.len(),
            elapsed: started.elapsed(),
        });
    }
    summary.corpus = corpus;
    summary.wall = started.elapsed();
    summary
}

/// Whether a run that failed with `until` failed because of its canary: without a canary,
/// always; with one, when the same scenario without it does not fail that way (a failure it
/// has anyway is a checker's or the herd's, not the planted bug's, and does not stop the
/// search).
fn the_canarys(scenario: &Scenario, until: &str) -> bool {
    if scenario.canary.is_none() {
        return true;
    }
    let mut without = scenario.clone();
    without.canary = None;
    !run(&without).label.is_some_and(|l| l.starts_with(until))
}

/// Writes a failing run's scenario, whole, to `DIR/failures/` (as AFL keeps its crashes
/// apart from its queue), for `sim FILE` or `sim shrink FILE`.
fn write_failure(dir: &std::path::Path, scenario: &Scenario, label: &str, run: usize) {
    let dir = dir.join("failures");
    let name = format!("run-{run}");
    let mut scenario = corpus::standalone(scenario, &name);
    scenario.name = format!("explore run {run}: {}", label.lines().next().unwrap_or(""));
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(format!("{name}.yaml")), scenario.to_yaml(&[])));
    if let Err(e) = written {
        eprintln!(
            "explore: cannot write a failure into {}: {e}",
            dir.display()
        );
    }
}

/// Writes the herd file that shows a run's herd fault to `DIR/failures/run-N.herd.yaml`, a
/// corpus file `sim check-herds` replays.
fn write_herd_failure(dir: &std::path::Path, fault: &herd_corpus::MadeFault, run: usize) {
    let path = dir.join("failures").join(format!("run-{run}.herd.yaml"));
    if let Err(e) = std::fs::write(&path, &fault.file) {
        eprintln!("explore: cannot write {}: {e}", path.display());
    }
}

/// The herd a scenario runs under: its herd with its `limits` applied.
fn herd_of(scenario: &Scenario) -> Herd {
    Herd {
        limits: scenario.effective_limits(),
        ..scenario.herd.clone()
    }
}

/// A child ready to run, and the parent it came from.
struct Child {
    scenario: Scenario,
    parent: Option<String>,
    /// What the server's loader did wrong with the child's herd ([`herd_corpus::judge_made`]):
    /// then the child is not run, and fails as [`Outcome::HerdFile`].
    herd_fault: Option<herd_corpus::MadeFault>,
}

impl Child {
    /// Judged with its herd as made, before it was written.
    fn judged(scenario: Scenario, parent: Option<String>) -> Child {
        let herd_fault = herd_corpus::judge_made(&herd_of(&scenario));
        Child {
            scenario,
            parent,
            herd_fault,
        }
    }

    fn run(&self) -> RunResult {
        match &self.herd_fault {
            Some(fault) => RunResult {
                outcome: Outcome::HerdFile(fault.verdict),
                label: Outcome::HerdFile(fault.verdict).label(),
                features: Features::default(),
            },
            None => run(&self.scenario),
        }
    }
}

/// Adds a run that reached `new` features to the corpus (and its directory).
fn keep(
    corpus: &mut Corpus,
    settings: &Settings,
    scenario: Scenario,
    parent: Option<String>,
    result: &RunResult,
    new: &[(String, Duration)],
) {
    let name = corpus::content_name(&scenario.to_yaml(&[]));
    let mut branch_points: Vec<Duration> = new
        .iter()
        .map(|(_, at)| *at)
        .filter(|at| *at != Duration::MAX)
        .collect();
    branch_points.sort();
    branch_points.dedup();
    let entry = Entry {
        scenario: corpus::standalone(&scenario, &name),
        name,
        parent,
        features: result.features.clone(),
        branch_points,
    };
    if let Some(dir) = &settings.corpus_dir
        && let Err(e) = corpus::write_entry(dir, &entry, corpus.energy(&entry))
    {
        eprintln!("explore: {e}");
    }
    corpus.add(entry);
}

/// One child: a fresh swarm draw, or a mutation of an entry picked by energy; its herd judged
/// as made ([`Child::judged`]), then sound and validated through its YAML, with its parent's
/// name.
fn child(
    base: &Base,
    corpus: &Corpus,
    aim_percent: u32,
    rng: &mut SmallRng,
) -> Result<Child, String> {
    let fresh_seed = |rng: &mut SmallRng| rng.random::<u32>() as u64 | 1 << 40;
    if corpus.entries.is_empty() || rng.random_range(0..100) < FRESH_PERCENT {
        return swarm::scenario_for(fresh_seed(rng), base).map(|s| Child::judged(s, None));
    }
    let aimed = (aim_percent > 0 && rng.random_range(0..100) < aim_percent)
        .then(|| super::aim::aim(corpus, rng));
    let parent = aimed
        .as_ref()
        .and_then(|a| a.parent)
        .unwrap_or_else(|| pick(corpus, rng));
    let towards = aimed.as_ref().map_or(&[][..], |a| &a.towards[..]);
    let mut scenario = parent.scenario.clone();
    let end_ms = mutate::chaos_end(&scenario).as_millis() as u64;
    let random_at =
        |rng: &mut SmallRng| Duration::from_millis(rng.random_range(0..end_ms.max(1)) / 10 * 10);
    let first = match rng.random_range(0..100) {
        0..30 => Mutation::Branch,
        30..40 => Mutation::Splice,
        40..50 => Mutation::Shift,
        50..60 => Mutation::Retarget,
        60..90 => Mutation::Bound,
        _ => Mutation::Tie,
    };
    // An entry that reached a rare value: half its children add another to it.
    let rare = parent.features.keys().any(|f| super::values::is_rare(f));
    // An aimed child keeps every step its parent took.
    let first = if aimed.is_some() {
        Mutation::Grow
    } else if rare && rng.random_bool(0.5) {
        Mutation::Stack
    } else {
        first
    };
    let mut ops = vec![first];
    while first != Mutation::Grow && ops.len() < 3 && rng.random_bool(0.4) {
        ops.push(
            [
                Mutation::Shift,
                Mutation::Retarget,
                Mutation::Bound,
                Mutation::Tie,
            ][rng.random_range(0..4)],
        );
    }
    for op in ops {
        match op {
            Mutation::Branch => {
                let points = &parent.branch_points;
                let at = match points.get(rng.random_range(0..points.len().max(1))) {
                    Some(at) => *at,
                    None => random_at(rng),
                };
                let donor = mutate::fresh(fresh_seed(rng), &scenario);
                scenario = mutate::branch(&scenario, &donor, at);
            }
            Mutation::Splice => {
                let other = &corpus.entries[rng.random_range(0..corpus.entries.len())];
                let at = random_at(rng);
                scenario = mutate::branch(&scenario, &other.scenario, at);
            }
            Mutation::Shift => mutate::shift(&mut scenario, rng),
            Mutation::Retarget => mutate::retarget(&mut scenario, rng),
            Mutation::Bound => mutate::bound(&mut scenario, rng),
            Mutation::Tie if rng.random_bool(0.5) => mutate::tie(&mut scenario, rng),
            Mutation::Tie => super::rare::tie_around(&mut scenario, rng),
            Mutation::Stack => super::rare::stack(&mut scenario, rng),
            Mutation::Grow => {
                // With an edge toward a rare property, the parent's steps are all kept: the
                // child replays the parent exactly up to the edge.
                if let Some(donor) = aimed.as_ref().and_then(|a| a.donor) {
                    // A union: the donor's steps reach a property no edge sets up.
                    scenario = mutate::graft(&scenario, &donor.scenario, Duration::ZERO);
                } else if towards.is_empty() && rng.random_bool(0.5) {
                    // From late in the run: the more of it replays as it was, the likelier the
                    // property is reached again.
                    let at = Duration::from_millis(
                        (end_ms / 2 + rng.random_range(0..end_ms / 2 + 1)) / 10 * 10,
                    );
                    let donor = mutate::fresh(fresh_seed(rng), &scenario);
                    scenario = mutate::graft(&scenario, &donor, at);
                }
                // The first edge that fits the run (a disk fault does not fit one with a
                // classic link), else one edge value.
                if !towards
                    .iter()
                    .any(|property| mutate::bound_toward(&mut scenario, rng, property))
                {
                    mutate::bound(&mut scenario, rng);
                }
            }
        }
    }
    mutate::sanitize(&mut scenario);
    let judged = Child::judged(scenario, Some(parent.name.clone()));
    if judged.herd_fault.is_some() {
        return Ok(judged);
    }
    let text = judged.scenario.to_yaml(&[]);
    let scenario =
        Scenario::from_yaml_str(&text, "explore-child.yaml").map_err(|e| e.to_string())?;
    Ok(Child { scenario, ..judged })
}

/// An entry, drawn with a chance in proportion to its energy.
fn pick<'a>(corpus: &'a Corpus, rng: &mut SmallRng) -> &'a Entry {
    let energies: Vec<u64> = corpus.entries.iter().map(|e| corpus.energy(e)).collect();
    let total: u64 = energies.iter().sum();
    let mut ticket = rng.random_range(0..total.max(1));
    for (entry, energy) in corpus.entries.iter().zip(energies) {
        if ticket < energy {
            return entry;
        }
        ticket -= energy;
    }
    &corpus.entries[0]
}
