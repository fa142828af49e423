//! The corpus: every run that reached a new feature, kept as a plain scenario file (`NAME.yaml`,
//! which `sim NAME.yaml` runs alone) beside a sidecar (`NAME.features`: its parent, energy,
//! branch points and features). Saved as it grows, read back to resume, and merged from the
//! directories of several machines into one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::scenario::{HerdSource, Scenario};

use super::features::Features;

/// One kept run.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file stem: a hash of the scenario's text, so the same scenario found on two
    /// machines is one entry.
    pub name: String,
    pub scenario: Scenario,
    pub parent: Option<String>,
    /// Every feature the run reached, with the time it was first reached.
    pub features: Features,
    /// When the features that were new to the corpus were first reached: where children branch.
    pub branch_points: Vec<Duration>,
}

/// Every kept run and how many runs reached each feature (rare features give energy).
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    pub entries: Vec<Entry>,
    /// Feature -> how many runs reached it (entries read back count once each).
    pub seen: BTreeMap<String, u64>,
    /// Entry name -> children made of it in this search: energy decays with them.
    pub children: BTreeMap<String, u64>,
}

/// A value feature ([`super::values`]) weighs this many times an ordinary one.
const VALUE_WEIGHT: f64 = 4.0;

/// An entry's energy halves after this many children.
const CHILDREN_HALF: u64 = 16;

/// FNV-1a over the text: a stable name, the same on every machine.
pub fn content_name(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

impl Corpus {
    /// Counts a run's features; returns those no run had reached before.
    pub fn observe(&mut self, features: &Features) -> Vec<(String, Duration)> {
        let mut new = Vec::new();
        for (feature, at) in features {
            let count = self.seen.entry(feature.clone()).or_insert(0);
            if *count == 0 {
                new.push((feature.clone(), *at));
            }
            *count += 1;
        }
        new
    }

    /// An entry's energy: the sum over its features of 1/(runs that reached it), a value
    /// feature (how close a run came to a bound or a rare value) weighing [`VALUE_WEIGHT`]
    /// times more, scaled, and divided as the entry has children (halved after
    /// [`CHILDREN_HALF`]), so an entry that reached what few runs reach is picked more often,
    /// and one that has had many children gives way to newer ones.
    pub fn energy(&self, entry: &Entry) -> u64 {
        let sum: f64 = entry
            .features
            .keys()
            .map(|f| {
                let weight = if f.starts_with("value:") {
                    VALUE_WEIGHT
                } else {
                    1.0
                };
                weight / self.seen.get(f).copied().unwrap_or(1).max(1) as f64
            })
            .sum();
        let children = self.children.get(&entry.name).copied().unwrap_or(0);
        let decay = CHILDREN_HALF as f64 / (CHILDREN_HALF + children) as f64;
        ((sum * 100.0 * decay) as u64).max(1)
    }

    /// Counts a child made of the entry `name`.
    pub fn child_of(&mut self, name: &str) {
        *self.children.entry(name.to_string()).or_insert(0) += 1;
    }

    /// The features reached so far.
    pub fn feature_count(&self) -> usize {
        self.seen.len()
    }

    /// Adds an entry unless one of the same name is held; returns whether it was added.
    pub fn add(&mut self, entry: Entry) -> bool {
        if self.entries.iter().any(|e| e.name == entry.name) {
            return false;
        }
        self.entries.push(entry);
        true
    }

    /// Reads every `*.yaml` with its sidecar from `dirs` (a missing directory is an empty
    /// corpus); entries are taken in file-name order, so the result does not depend on the
    /// order the file system lists them.
    pub fn load(dirs: &[PathBuf]) -> Result<Corpus, String> {
        let mut corpus = Corpus::default();
        for dir in dirs {
            if !dir.exists() {
                continue;
            }
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .collect();
            files.sort();
            for path in files {
                let entry = read_entry(&path)?;
                corpus.observe(&entry.features);
                corpus.add(entry);
            }
        }
        Ok(corpus)
    }

    /// The smallest set of entries, greedily, that still reaches every feature: entries with
    /// the most features first, each kept only if it adds one (as AFL's corpus minimizer).
    pub fn minimized(&self) -> Corpus {
        let mut order: Vec<&Entry> = self.entries.iter().collect();
        order.sort_by(|a, b| {
            b.features
                .len()
                .cmp(&a.features.len())
                .then(a.name.cmp(&b.name))
        });
        let mut kept = Corpus {
            entries: Vec::new(),
            seen: self.seen.clone(),
            children: BTreeMap::new(),
        };
        let mut covered: std::collections::BTreeSet<&str> = Default::default();
        for entry in order {
            let adds = entry.features.keys().any(|f| !covered.contains(f.as_str()));
            if adds {
                covered.extend(entry.features.keys().map(String::as_str));
                kept.entries.push(entry.clone());
            }
        }
        kept
    }
}

/// The scenario as a corpus file writes it: the herd inline, so the file runs from anywhere.
pub fn standalone(scenario: &Scenario, name: &str) -> Scenario {
    let mut scenario = scenario.clone();
    scenario.herd_source = HerdSource::Inline;
    scenario.name = format!("explore corpus entry {name}");
    scenario
}

fn millis(at: Duration) -> String {
    if at == Duration::MAX {
        "-".into()
    } else {
        at.as_millis().to_string()
    }
}

fn parse_millis(text: &str) -> Result<Duration, String> {
    if text == "-" {
        return Ok(Duration::MAX);
    }
    text.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("{text:?} is not a time in ms"))
}

/// Writes an entry's scenario and sidecar into `dir`.
pub fn write_entry(dir: &Path, entry: &Entry, energy: u64) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let yaml = entry.scenario.to_yaml(&[
        "Kept by `sim explore`: it reached a feature no earlier run had.".into(),
        format!(
            "Parent: {}.",
            entry.parent.as_deref().unwrap_or("none (a fresh draw)")
        ),
    ]);
    let mut side = String::new();
    let _ = writeln!(side, "parent {}", entry.parent.as_deref().unwrap_or("-"));
    let _ = writeln!(side, "energy {energy}");
    for at in &entry.branch_points {
        let _ = writeln!(side, "branch {}", millis(*at));
    }
    for (feature, at) in &entry.features {
        let _ = writeln!(side, "feature {} {feature}", millis(*at));
    }
    let write = |path: PathBuf, text: &str| {
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write(dir.join(format!("{}.yaml", entry.name)), &yaml)?;
    write(dir.join(format!("{}.features", entry.name)), &side)
}

/// Reads one corpus file and its sidecar.
fn read_entry(path: &Path) -> Result<Entry, String> {
    let scenario = Scenario::load(path).map_err(|e| e.to_string())?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let side_path = path.with_extension("features");
    let side = std::fs::read_to_string(&side_path)
        .map_err(|e| format!("cannot read {}: {e}", side_path.display()))?;
    let mut entry = Entry {
        name,
        scenario,
        parent: None,
        features: Features::new(),
        branch_points: Vec::new(),
    };
    for (n, line) in side.lines().enumerate() {
        let bad = || format!("{}:{}: cannot read {line:?}", side_path.display(), n + 1);
        let (key, rest) = line.split_once(' ').ok_or_else(bad)?;
        match key {
            "parent" if rest != "-" => entry.parent = Some(rest.to_string()),
            "parent" | "energy" => {}
            "branch" => entry.branch_points.push(parse_millis(rest)?),
            "feature" => {
                let (at, feature) = rest.split_once(' ').ok_or_else(bad)?;
                entry
                    .features
                    .insert(feature.to_string(), parse_millis(at)?);
            }
            _ => return Err(bad()),
        }
    }
    Ok(entry)
}
