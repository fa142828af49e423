//! The second pass: what serde's types cannot say. Every error names where it is (the step's
//! index, time and line) and what would fix it.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::oracle::spec::{ClientLine, is_white_space};
use serde_saphyr::{Location, Spanned};
use server::config::Herd;

use super::de::{HerdSpec, ScenarioFile, StepFile};
use super::{
    Action, Checks, Expect, HOSTILE_ID_BYTES_MAX, HerdSource, Hostile, IamAt, LOAD_CLIENTS_MAX,
    Load, PLACES_HOST, PlacesFault, STEP_CONNECTIONS_MAX, Scenario, ScenarioError, Step, WhatsAt,
    fmt_duration,
};
use crate::checker_name::CheckerName;

/// Host names the harness itself uses; no server or client may take them.
const RESERVED_HOSTS: &[&str] = &crate::hosts::RESERVED;

pub(super) fn validate(file: ScenarioFile, origin: &Path) -> Result<Scenario, ScenarioError> {
    let err = |loc: &Location, message: String| invalid(origin, loc, message);

    let name = file.name.value.trim().to_string();
    if name.is_empty() {
        return Err(err(
            &file.name.referenced,
            "`name` must say what the story is".into(),
        ));
    }
    let duration = file.duration.value.0;
    if duration.is_zero() {
        return Err(err(
            &file.duration.referenced,
            "`duration` must be longer than 0s".into(),
        ));
    }
    let tick = match &file.tick {
        None => Duration::from_millis(1),
        Some(tick) => {
            if tick.value.0.is_zero() || tick.value.0 > duration {
                return Err(err(
                    &tick.referenced,
                    format!(
                        "`tick` must be above 0s and at most the duration ({})",
                        fmt_duration(duration)
                    ),
                ));
            }
            tick.value.0
        }
    };
    let start = match &file.start {
        None => super::START_DEFAULT,
        Some(start) => super::start::parse(&start.value).map_err(|e| err(&start.referenced, e))?,
    };

    let canary = match &file.canary {
        None => None,
        Some(name) => Some(
            server::canary::Canary::parse(name.value.trim())
                .map_err(|e| err(&name.referenced, e))?,
        ),
    };
    let buggify = match file.buggify {
        None => None,
        Some(b) => {
            b.value.check(duration).map_err(|e| err(&b.referenced, e))?;
            Some(b.value)
        }
    };
    let (herd_loc, herd_source, herd) = resolve_herd(file.herd, origin)?;
    let (limits_loc, limits) = match file.limits {
        None => (Location::UNKNOWN, Default::default()),
        Some(limits) => (limits.referenced, limits.value),
    };

    let (checks, checks_loc) = match file.checks {
        None => (Checks::default(), Location::UNKNOWN),
        Some(checks) => (checks.value, checks.referenced),
    };
    check_checks(&checks, &checks_loc, origin)?;
    let steps = validate_steps(file.steps, duration, origin)?;

    let scenario = Scenario {
        name,
        description: file.description,
        seed: file.seed,
        duration,
        tick,
        start,
        herd_source,
        herd,
        network: file.network.map(|n| n.into_network()).unwrap_or_default(),
        limits,
        places_api: file.places_api,
        unauthenticated: file.unauthenticated,
        canary,
        buggify,
        steps,
        checks,
        origin: origin.to_path_buf(),
    };
    check_herd(&scenario, &herd_loc, &limits_loc)?;

    check_convergence_deadline(&scenario, &file.duration.referenced)?;
    Ok(scenario)
}

/// The `checks` section: every checker it names exists, and its bounds are sound.
fn check_checks(
    checks: &Checks,
    checks_loc: &Location,
    origin: &Path,
) -> Result<(), ScenarioError> {
    let err = |loc: &Location, message: String| invalid(origin, loc, message);
    for diverging in checks.real_divergence.keys() {
        if CheckerName::parse(diverging).is_none() && diverging != "system" {
            return Err(err(
                checks_loc,
                format!(
                    "`checks.real_divergence` names `{diverging}`, which is not a checker (one of {}) or `system`",
                    checker_list()
                ),
            ));
        }
    }
    for skipped in &checks.skip {
        if CheckerName::parse(skipped).is_none() {
            return Err(err(
                checks_loc,
                format!(
                    "`checks.skip` names `{skipped}`, which is not a checker (one of {})",
                    checker_list()
                ),
            ));
        }
    }
    if checks.converged_within.is_zero() || checks.answered_within.is_zero() {
        return Err(err(
            checks_loc,
            "`converged_within` and `answered_within` must be above 0s".into(),
        ));
    }
    if checks.refills_max == Some(0) {
        return Err(err(
            checks_loc,
            "`refills_max` must be at least 1: a restarted server needs one refill".into(),
        ));
    }
    Ok(())
}

/// The steps, each in time order and before the end, with expectations its action can meet.
fn validate_steps(
    files: Vec<Spanned<StepFile>>,
    duration: Duration,
    origin: &Path,
) -> Result<Vec<Step>, ScenarioError> {
    let err = |loc: &Location, message: String| invalid(origin, loc, message);
    let mut steps = Vec::with_capacity(files.len());
    let mut previous = Duration::ZERO;
    for (index, spanned) in files.into_iter().enumerate() {
        let Spanned {
            value, referenced, ..
        } = spanned;
        let StepFile { at, action, expect } = value;
        let step_err = |message: String| {
            err(
                &referenced,
                format!("step {index} (at {}): {message}", fmt_duration(at)),
            )
        };
        if at < previous {
            return Err(step_err(format!(
                "steps must be in time order, this one comes after a step at {}",
                fmt_duration(previous)
            )));
        }
        if at >= duration {
            return Err(step_err(format!(
                "the run ends at {}; a step must come before that",
                fmt_duration(duration)
            )));
        }
        previous = at;
        if let Some(expect) = &expect {
            check_expect(&action, expect).map_err(step_err)?;
        }
        steps.push(Step {
            id: index as u64,
            at,
            action,
            expect,
            line: referenced.line(),
            column: referenced.column(),
        });
    }
    Ok(steps)
}

/// Convergence is judged within the run: after the last fault, `converged_within` must end
/// before `duration` does (`duration_loc`).
fn check_convergence_deadline(
    scenario: &Scenario,
    duration_loc: &Location,
) -> Result<(), ScenarioError> {
    let duration = scenario.duration;
    let err = |loc: &Location, message: String| invalid(&scenario.origin, loc, message);
    if scenario.checks.runs(CheckerName::Convergence) {
        let deadline = scenario.last_fault_heal_at() + scenario.checks.converged_within;
        if deadline > duration {
            return Err(err(
                duration_loc,
                format!(
                    "the run ends at {} but convergence is judged at {} (last fault at {} + converged_within {}); lengthen `duration` or add `convergence` to `checks.skip`",
                    fmt_duration(duration),
                    fmt_duration(deadline),
                    fmt_duration(scenario.last_fault_heal_at()),
                    fmt_duration(scenario.checks.converged_within),
                ),
            ));
        }
    }
    Ok(())
}

/// Every checker's name, for an error that names an unknown one.
fn checker_list() -> String {
    CheckerName::ALL.map(CheckerName::as_str).join(", ")
}

fn invalid(origin: &Path, loc: &Location, message: String) -> ScenarioError {
    invalid_at(origin, loc.line(), loc.column(), message)
}

fn invalid_at(origin: &Path, line: u64, column: u64, message: String) -> ScenarioError {
    ScenarioError::Invalid {
        path: origin.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Everything that depends on the herd: the herd and the merged limits pass the server's own
/// checks, no server takes a harness host name, and every step names servers of this herd
/// (crashes and restarts in a possible order). Run again when the herd is swapped.
pub(super) fn check_herd(
    s: &Scenario,
    herd_loc: &Location,
    limits_loc: &Location,
) -> Result<(), ScenarioError> {
    let origin = s.origin.as_path();
    s.herd
        .validate()
        .map_err(|e| invalid(origin, herd_loc, format!("herd: {e}")))?;
    for server in &s.herd.servers {
        if RESERVED_HOSTS.contains(&server.name.as_str()) {
            return Err(invalid(
                origin,
                herd_loc,
                format!(
                    "herd: `{}` is the harness's own host name; rename the server",
                    server.name
                ),
            ));
        }
    }
    if s.limits != Default::default() {
        let mut merged = s.herd.clone();
        s.limits.apply(&mut merged.limits);
        merged
            .validate()
            .map_err(|e| invalid(origin, limits_loc, format!("with these `limits`: {e}")))?;
    }
    let servers = s.server_names();
    let mut crashed = BTreeSet::new();
    for step in &s.steps {
        check_action(&step.action, &s.herd, &servers, &mut crashed).map_err(|message| {
            invalid_at(
                origin,
                step.line,
                step.column,
                format!("step {} (at {}): {message}", step.id, fmt_duration(step.at)),
            )
        })?;
    }
    Ok(())
}

/// Loads the herd the scenario names (checked later, by [`check_herd`]).
fn resolve_herd(
    spec: Option<Spanned<HerdSpec>>,
    origin: &Path,
) -> Result<(Location, HerdSource, Herd), ScenarioError> {
    let (loc, spec) = match spec {
        None => (Location::UNKNOWN, HerdSpec::Default),
        Some(spanned) => (spanned.referenced, spanned.value),
    };
    let (source, herd) = match spec {
        HerdSpec::Default => (HerdSource::Default, Herd::default_herd()),
        HerdSpec::Inline(herd) => (HerdSource::Inline, *herd),
        HerdSpec::File(file) => {
            let base = origin.parent().unwrap_or(Path::new(""));
            let herd = Herd::load(&base.join(&file))
                .map_err(|e| invalid(origin, &loc, format!("herd file `{file}`: {e}")))?;
            (HerdSource::File(file.into()), herd)
        }
    };
    Ok((loc, source, herd))
}

fn check_server(name: &str, servers: &[String]) -> Result<(), String> {
    if servers.iter().any(|s| s == name) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a server of the herd ({})",
            servers.join(", ")
        ))
    }
}

fn check_client(name: &str, servers: &[String]) -> Result<(), String> {
    if name.is_empty() || name.chars().any(is_white_space) {
        return Err(format!(
            "client `{name}` must be a non-empty id without white space"
        ));
    }
    if servers.iter().any(|s| s == name) || RESERVED_HOSTS.contains(&name) {
        return Err(format!(
            "client `{name}` takes the name of a host of the herd or harness"
        ));
    }
    Ok(())
}

/// `between`/`and`: non-empty groups of servers or `places`, disjoint, no repeats.
fn check_groups(between: &[String], and: &[String], servers: &[String]) -> Result<(), String> {
    if between.is_empty() || and.is_empty() {
        return Err("`between` and `and` each need at least one host".into());
    }
    let mut seen = BTreeSet::new();
    for name in between.iter().chain(and) {
        if name != PLACES_HOST {
            check_server(name, servers).map_err(|e| format!("{e} (or `{PLACES_HOST}`)"))?;
        }
        if !seen.insert(name.as_str()) {
            return Err(format!("`{name}` appears twice in `between`/`and`"));
        }
    }
    Ok(())
}

fn check_action(
    action: &Action,
    herd: &Herd,
    servers: &[String],
    crashed: &mut BTreeSet<String>,
) -> Result<(), String> {
    match action {
        Action::IamAt(a) => check_iamat(a, servers)?,
        Action::WhatsAt(a) => check_whatsat(a, servers)?,
        Action::Raw(a) => {
            check_server(&a.server, servers)?;
            check_client(&a.client, servers)?;
        }
        Action::Partition(l) | Action::Repair(l) => check_groups(&l.between, &l.and, servers)?,
        Action::Hold(l) | Action::Release(l) => check_groups(&l.between, &l.and, servers)?,
        Action::Latency(l) => check_groups(&l.between, &l.and, servers)?,
        Action::Crash(name) => {
            check_server(name, servers)?;
            if !crashed.insert(name.clone()) {
                return Err(format!("`{name}` is already crashed; restart it first"));
            }
        }
        Action::Restart(name) => {
            check_server(name, servers)?;
            if !crashed.remove(name) {
                return Err(format!(
                    "`{name}` is running; crash it before restarting it"
                ));
            }
        }
        Action::Impostor(impostor) => {
            let name = &impostor.server;
            check_server(name, servers)?;
            if !crashed.contains(name) {
                return Err(format!(
                    "`{name}` is running; an impostor takes only a crashed server's address"
                ));
            }
            if let super::ImpostorCertificate::Of(other) = &impostor.certificate {
                check_server(other, servers)?;
                if other == name {
                    return Err(format!(
                        "an impostor at `{name}` with `{name}`'s own certificate is `{name}`"
                    ));
                }
            }
        }
        Action::Tamper(t) => super::tamper::check_tamper(t, herd)?,
        Action::Skew(s) => check_server(&s.server, servers)?,
        Action::Disk(d) => check_server(&d.server, servers)?,
        Action::Places(p) => check_places(p)?,
        Action::Load(l) => check_load(l, servers)?,
        Action::Hostile(h) => check_hostile(h, herd, servers)?,
    }
    Ok(())
}

/// An IAMAT step: its server and client exist, and its location and timestamp are valid.
fn check_iamat(a: &IamAt, servers: &[String]) -> Result<(), String> {
    check_server(&a.server, servers)?;
    check_client(&a.client, servers)?;
    let timestamp = a.timestamp.as_deref().unwrap_or("0");
    let probe = format!("IAMAT {} {} 0", a.client, a.location);
    if let Some(why) = refused(&a.location, &probe) {
        return Err(format!(
            "location `{}` is not a valid ISO 6709 pair like +34.068930-118.445127: {why} (send invalid input with `raw`)",
            a.location
        ));
    }
    let line = format!("IAMAT {} {} {}", a.client, a.location, timestamp);
    if let Some(why) = refused(timestamp, &line) {
        return Err(format!(
            "timestamp `{timestamp}` is not POSIX seconds like 1700000000.5: {why} (send invalid input with `raw`)"
        ));
    }
    Ok(())
}

/// A WHATSAT step: its server and client exist, and its radius and bound are valid.
fn check_whatsat(a: &WhatsAt, servers: &[String]) -> Result<(), String> {
    check_server(&a.server, servers)?;
    check_client(&a.client, servers)?;
    let line = format!("WHATSAT {} {} {}", a.client, a.radius_km, a.bound);
    if let Some(why) = refused(&a.radius_km, &line) {
        return Err(format!(
            "radius_km `{}` must be a decimal in (0, 50] and bound {} an integer in [1, 20]: {why} (send invalid input with `raw`)",
            a.radius_km, a.bound
        ));
    }
    Ok(())
}

/// A load step: its server exists and its clients, connections, prefix and rate are bounded.
fn check_load(l: &Load, servers: &[String]) -> Result<(), String> {
    check_server(&l.server, servers)?;
    if l.clients == 0 || l.clients > LOAD_CLIENTS_MAX {
        return Err(format!(
            "`load.clients` must be in 1..={LOAD_CLIENTS_MAX}, found {}",
            l.clients
        ));
    }
    if l.connections == 0 || l.connections > STEP_CONNECTIONS_MAX {
        return Err(format!(
            "`load.connections` must be in 1..={STEP_CONNECTIONS_MAX}, found {}",
            l.connections
        ));
    }
    if l.prefix.is_empty() || l.prefix.chars().any(is_white_space) {
        return Err(
            "`load.prefix` must be a non-empty client id prefix without white space".into(),
        );
    }
    if l.per_second == Some(0) {
        return Err(
            "`load.per_second` must be at least 1 (leave it out for as fast as possible)".into(),
        );
    }
    Ok(())
}

/// Stallers claim a persistent neighbour of their server, at a bounded rate for a bounded
/// time.
fn check_stall(stall: &crate::scenario::Stall, server: &str, herd: &Herd) -> Result<(), String> {
    use crate::scenario::{STALL_FOR_MAX, STALL_PER_SECOND_MAX};
    let neighbour = herd
        .neighbours(server)
        .iter()
        .any(|n| n.name == stall.name && !n.classic);
    if !neighbour {
        return Err(format!(
            "`hostile.stall.as: {}` must be a persistent neighbour of {server}",
            stall.name
        ));
    }
    if stall.per_second == 0 || stall.per_second > STALL_PER_SECOND_MAX {
        return Err(format!(
            "`hostile.stall.per_second` must be in 1..={STALL_PER_SECOND_MAX}"
        ));
    }
    if stall.stall_for.is_zero() || stall.stall_for > STALL_FOR_MAX {
        return Err(format!(
            "`hostile.stall.for` must be more than 0s and at most {}",
            crate::scenario::fmt_duration(STALL_FOR_MAX)
        ));
    }
    Ok(())
}

/// A hostile step: its server exists, it does something, a `peer_as` is not the herd itself,
/// and its sizes are bounded.
fn check_hostile(h: &Hostile, herd: &Herd, servers: &[String]) -> Result<(), String> {
    check_server(&h.server, servers)?;
    if h.lines.is_empty()
        && h.huge_id_bytes.is_none()
        && h.hold_connections == 0
        && h.peer_as.is_none()
        && h.stall.is_none()
    {
        return Err(
            "`hostile` needs `lines`, `huge_id_bytes`, `hold_connections`, `peer_as` or `stall`"
                .into(),
        );
    }
    if let Some(stall) = &h.stall {
        check_stall(stall, &h.server, herd)?;
    }
    if let Some(name) = &h.peer_as {
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(format!(
                "`hostile.peer_as` is one name without white space, not {name:?}"
            ));
        }
        if name == &h.server
            || herd
                .neighbours(&h.server)
                .iter()
                .any(|n| &n.name == name && !n.classic)
        {
            return Err(format!(
                "`hostile.peer_as: {name}` must not be {} or one of its persistent neighbours: with the herd's secret, that would be the herd itself",
                h.server
            ));
        }
    }
    if h.hold_connections > STEP_CONNECTIONS_MAX {
        return Err(format!(
            "`hostile.hold_connections` must be at most {STEP_CONNECTIONS_MAX}"
        ));
    }
    if let Some(bytes) = h.huge_id_bytes
        && (bytes == 0 || bytes > HOSTILE_ID_BYTES_MAX)
    {
        return Err(format!(
            "`hostile.huge_id_bytes` must be in 1..={HOSTILE_ID_BYTES_MAX}"
        ));
    }
    if h.hold_for.is_some() && h.hold_connections == 0 {
        return Err(
            "`hostile.for` says how long held connections stay; it needs `hold_connections`".into(),
        );
    }
    if h.to_peer_port && h.lines.is_empty() {
        return Err("`hostile.to_peer_port` sends `lines`: give some".into());
    }
    if let Some(line) = h.lines.iter().find(|l| l.contains('\n')) {
        return Err(format!(
            "`hostile.lines` are one line each; {line:?} holds a newline"
        ));
    }
    Ok(())
}

/// Why docs/protocol.md makes `line` (built around the scenario's `field`) invalid, or `None` if it
/// is a valid command. White space inside `field` would split it, so it is refused up front.
/// Decided by the checkers' reference grammar, not the server's parser: a server whose parser is
/// wrong still gets the scenario, and the checkers judge its answers.
fn refused(field: &str, line: &str) -> Option<String> {
    if field.chars().any(is_white_space) {
        return Some("it contains white space".into());
    }
    match ClientLine::parse(line) {
        ClientLine::Invalid(why) => Some(why.to_string()),
        ClientLine::Link => Some("it is a line of the link protocol".into()),
        ClientLine::IamAt { .. } | ClientLine::WhatsAt { .. } => None,
    }
}

fn check_places(p: &PlacesFault) -> Result<(), String> {
    let faults = usize::from(p.latency.is_some())
        + usize::from(p.http_status.is_some())
        + usize::from(p.malformed)
        + usize::from(p.status.is_some())
        + usize::from(p.unreachable);
    if p.healthy && faults > 0 {
        return Err(
            "`places: { healthy: true }` stands alone; it clears every Places fault".into(),
        );
    }
    if !p.healthy && faults == 0 {
        return Err("`places` needs a fault (latency, http_status, malformed, status, unreachable) or `healthy: true`".into());
    }
    if let Some(code) = p.http_status
        && !(100..=599).contains(&code)
    {
        return Err(format!("`http_status` {code} is not an HTTP status"));
    }
    if let Some(status) = &p.status
        && (status.is_empty() || status == "OK")
    {
        return Err("`status` is a non-OK Places status such as OVER_QUERY_LIMIT".into());
    }
    if p.malformed && (p.http_status.is_some() || p.status.is_some()) {
        return Err(
            "`malformed` replaces the body; it cannot combine with `http_status` or `status`"
                .into(),
        );
    }
    Ok(())
}

fn check_expect(action: &Action, e: &Expect) -> Result<(), String> {
    if let Action::Hostile(h) = action {
        let exchanges = usize::from(!h.lines.is_empty())
            + usize::from(h.peer_as.is_some())
            + usize::from(h.huge_id_bytes.is_some());
        if exchanges != 1 {
            return Err("`expect` on a hostile step judges one reply: give exactly one of `lines`, `peer_as` or `huge_id_bytes`".into());
        }
        let about_reply = e.origin.is_some()
            || e.location.is_some()
            || e.timestamp.is_some()
            || e.results.is_some()
            || e.status.is_some()
            || e.invalid == Some(false);
        if about_reply {
            return Err("a hostile step's `expect` has only `invalid: true` and `replies`".into());
        }
        return Ok(());
    }
    if e.replies.is_some() {
        return Err(
            "`expect.replies` counts a hostile step's reply lines; it belongs to hostile steps"
                .into(),
        );
    }
    if !action.is_workload() {
        return Err(format!(
            "`expect` belongs to iamat, whatsat, raw or hostile steps, not to `{}`",
            action.kind()
        ));
    }
    let about_record = e.origin.is_some()
        || e.location.is_some()
        || e.timestamp.is_some()
        || e.time_diff.is_some();
    let about_json = e.results.is_some() || e.status.is_some();
    if e.invalid == Some(true) && (about_record || about_json) {
        return Err("`expect.invalid: true` means a `?` reply, which has no origin, location, timestamp, time_diff, results or status".into());
    }
    if about_json && matches!(action, Action::IamAt(_)) {
        return Err(
            "an IAMAT reply has no Places JSON; `results` and `status` belong to whatsat".into(),
        );
    }
    if let Some(origin) = &e.origin
        && origin.is_empty()
    {
        return Err("`expect.origin` is empty".into());
    }
    Ok(())
}
