//! Shrinking: a failing scenario reduced by delta debugging to the smallest scenario that still
//! fails the same way (same failure class, same first failing checker), written as YAML.
//!
//! Steps are removed in units (a partition with its repair, a crash with its restart, a hold
//! with its release, a fault with its healing), so a shrunk scenario never "fails" only because
//! a fault was left unhealed. Then servers no step names are dropped (keeping the herd
//! connected), time is compressed, and the network made plain. Every candidate is written as
//! YAML and read back, so the scenario's own validation rejects nonsense.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::outcome::Outcome;
use crate::report;
use crate::scenario::{Action, HerdSource, LatencyRange, Network, Scenario, Step};

/// A minimized scenario and what it still shows.
pub struct Shrunk {
    pub scenario: Scenario,
    /// The failure kept throughout.
    pub outcome: Outcome,
    /// Its `class/checker` ([`Outcome::label`]).
    pub label: String,
    pub runs: usize,
    pub steps_before: usize,
}

/// How a scenario run ends.
pub fn judge(scenario: &Scenario) -> Outcome {
    report::run_and_judge(scenario).outcome()
}

struct Oracle {
    outcome: Outcome,
    runs: usize,
    runs_max: usize,
}

impl Oracle {
    /// Whether `candidate`, normalized through YAML, still fails the same way.
    fn still_fails(&mut self, candidate: &Scenario) -> Option<Scenario> {
        if self.runs >= self.runs_max {
            return None;
        }
        let normalized =
            Scenario::from_yaml_str(&candidate.to_yaml(&[]), &candidate.origin).ok()?;
        self.runs += 1;
        (judge(&normalized) == self.outcome).then_some(normalized)
    }
}

/// Minimizes `scenario` while it keeps failing as it does now.
pub fn shrink(scenario: &Scenario, runs_max: usize) -> Result<Shrunk, String> {
    let outcome = judge(scenario);
    let label = outcome
        .label()
        .ok_or("the scenario passes every check: nothing to shrink")?;
    let mut oracle = Oracle {
        outcome,
        runs: 1,
        runs_max,
    };
    let mut current = scenario.clone();
    loop {
        let before = (
            current.steps.len(),
            current.herd.servers.len(),
            current.duration,
        );
        current = drop_units(current, &mut oracle);
        current = drop_servers(current, &mut oracle);
        current = compress_time(current, &mut oracle);
        current = plain_network(current, &mut oracle);
        let after = (
            current.steps.len(),
            current.herd.servers.len(),
            current.duration,
        );
        if after == before || oracle.runs >= oracle.runs_max {
            break;
        }
    }
    let runs = oracle.runs;
    Ok(Shrunk {
        scenario: current,
        outcome,
        label,
        runs,
        steps_before: scenario.steps.len(),
    })
}

/// Groups each fault with the step that heals it; every other step is a unit of its own.
fn units(steps: &[Step]) -> Vec<Vec<usize>> {
    let mut taken = vec![false; steps.len()];
    let mut units = Vec::new();
    for i in 0..steps.len() {
        if taken[i] {
            continue;
        }
        taken[i] = true;
        let mut unit = vec![i];
        let partner =
            (i + 1..steps.len()).find(|&j| !taken[j] && heals(&steps[i].action, &steps[j].action));
        if let Some(j) = partner {
            taken[j] = true;
            unit.push(j);
        }
        units.push(unit);
    }
    units
}

fn heals(fault: &Action, later: &Action) -> bool {
    match (fault, later) {
        (Action::Partition(a), Action::Repair(b)) => a == b,
        (Action::Hold(a), Action::Release(b)) => a == b,
        (Action::Crash(a), Action::Restart(b)) => a == b,
        (Action::Latency(a), Action::Latency(b)) => a.between == b.between && a.and == b.and,
        (Action::Places(a), Action::Places(b)) => !a.healthy && b.healthy,
        _ => false,
    }
}

fn without(scenario: &Scenario, drop: &[usize]) -> Scenario {
    let mut candidate = scenario.clone();
    candidate.steps = scenario
        .steps
        .iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, s)| s.clone())
        .collect();
    candidate
}

/// Delta debugging over units: remove chunks, halving the chunk size when nothing goes.
fn drop_units(mut current: Scenario, oracle: &mut Oracle) -> Scenario {
    let mut chunk = units(&current.steps).len().div_ceil(2).max(1);
    loop {
        let mut i = 0;
        let mut progressed = false;
        loop {
            let all = units(&current.steps);
            if i >= all.len() {
                break;
            }
            let drop: Vec<usize> = all[i..(i + chunk).min(all.len())]
                .iter()
                .flatten()
                .copied()
                .collect();
            match oracle.still_fails(&without(&current, &drop)) {
                Some(smaller) => {
                    current = smaller;
                    progressed = true;
                }
                None => i += chunk,
            }
        }
        if !progressed {
            if chunk == 1 {
                return current;
            }
            chunk = chunk.div_ceil(2).max(1).min(chunk - 1).max(1);
        }
        if oracle.runs >= oracle.runs_max {
            return current;
        }
    }
}

/// Names every step uses.
fn named(scenario: &Scenario) -> Vec<String> {
    let mut names = Vec::new();
    for step in &scenario.steps {
        match &step.action {
            Action::Partition(c) | Action::Repair(c) => {
                names.extend(c.between.iter().chain(&c.and).cloned())
            }
            Action::Hold(g) | Action::Release(g) => {
                names.extend(g.between.iter().chain(&g.and).cloned())
            }
            Action::Latency(l) => names.extend(l.between.iter().chain(&l.and).cloned()),
            Action::Crash(s) | Action::Restart(s) => names.push(s.clone()),
            Action::Skew(s) => names.push(s.server.clone()),
            other => names.extend(other.server().map(str::to_string)),
        }
        if let Some(origin) = step.expect.as_ref().and_then(|e| e.origin.clone()) {
            names.push(origin);
        }
    }
    names
}

/// Drops servers no step names, one at a time, while the rest of the herd stays connected.
fn drop_servers(mut current: Scenario, oracle: &mut Oracle) -> Scenario {
    let names = named(&current);
    let candidates: Vec<String> = current
        .herd
        .servers
        .iter()
        .map(|s| s.name.clone())
        .filter(|n| !names.contains(n))
        .collect();
    for name in candidates {
        let mut candidate = current.clone();
        candidate.herd.servers.retain(|s| s.name != name);
        candidate.herd.links.retain(|l| !l.between.contains(&name));
        candidate.herd_source = HerdSource::Inline;
        if !connected(&candidate.herd) {
            continue;
        }
        if let Some(smaller) = oracle.still_fails(&candidate) {
            current = smaller;
        }
    }
    current
}

fn connected(herd: &server::config::Herd) -> bool {
    let Some(first) = herd.servers.first() else {
        return false;
    };
    let mut seen = vec![first.name.clone()];
    let mut frontier = vec![first.name.clone()];
    while let Some(name) = frontier.pop() {
        for n in herd.neighbours(&name) {
            if !seen.contains(&n.name) {
                seen.push(n.name.clone());
                frontier.push(n.name);
            }
        }
    }
    seen.len() == herd.servers.len()
}

/// Ends the run soon after the last step, then tries the whole story at half speed.
fn compress_time(mut current: Scenario, oracle: &mut Oracle) -> Scenario {
    let shortest = |s: &Scenario| {
        let last = s.steps.iter().map(|st| st.at).max().unwrap_or_default();
        let end = last + s.checks.converged_within + Duration::from_secs(1);
        Duration::from_secs(end.as_secs() + u64::from(end.subsec_nanos() > 0))
    };
    let mut candidate = current.clone();
    candidate.duration = shortest(&candidate).min(candidate.duration);
    if candidate.duration < current.duration
        && let Some(shorter) = oracle.still_fails(&candidate)
    {
        current = shorter;
    }
    let mut halved = current.clone();
    for step in &mut halved.steps {
        step.at = Duration::from_millis(step.at.as_millis() as u64 / 2);
    }
    halved.duration = shortest(&halved).min(current.duration);
    if halved
        .steps
        .iter()
        .zip(&current.steps)
        .any(|(a, b)| a.at != b.at)
        && let Some(faster) = oracle.still_fails(&halved)
    {
        current = faster;
    }
    current
}

/// The default network, if the failure does not need the scenario's.
fn plain_network(current: Scenario, oracle: &mut Oracle) -> Scenario {
    let plain = Network::default();
    if current.network == plain {
        return current;
    }
    let mut candidate = current.clone();
    candidate.network = Network {
        latency: LatencyRange { ..plain.latency },
    };
    oracle.still_fails(&candidate).unwrap_or(current)
}

/// Writes a shrunk scenario to `dir` with a comment saying what fails and where it came from.
pub fn write_regression(shrunk: &Shrunk, from: &str, dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let checker = match shrunk.outcome {
        Outcome::Crash => "system-under-test",
        outcome => outcome.checker().map_or("failure", |c| c.as_str()),
    };
    let stem = Path::new(from)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    let path = dir.join(format!("{stem}-{checker}.yaml"));
    let mut scenario = shrunk.scenario.clone();
    scenario.name = format!("regression: {} (shrunk from {from})", shrunk.label);
    scenario.description = None;
    let header = [
        format!(
            "Shrunk by `sim shrink` from {from} (seed {}).",
            scenario.seed
        ),
        format!("Fails: {} (checker `{checker}`).", shrunk.label),
        format!(
            "{} steps -> {} steps in {} runs.",
            shrunk.steps_before,
            scenario.steps.len(),
            shrunk.runs
        ),
    ];
    std::fs::write(&path, scenario.to_yaml(&header))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
