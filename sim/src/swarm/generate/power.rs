//! The power-faults family: power losses (one server or the whole herd, some in a burst of
//! load so writes tear in flight) and disk faults (a flipped bit, a failed sync, a full disk),
//! drawn on their own random stream so no other family's steps move when it is on.

use super::*;

/// How long a server whose disk failed (it stops itself) stays down before it is crashed and
/// restarted.
pub const FAILED_DISK_DOWN: Duration = Duration::from_millis(500);

/// One fault of the family, in the order the swarm draws them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerFault {
    /// One server loses power.
    LoseOne,
    /// Every server of the herd loses power at once.
    LoseAll,
    /// One server loses power 1 to 40 ms into a burst of load: writes torn in flight.
    Torn,
    /// A bit flips at rest while the server is down.
    FlipBit,
    /// A sync fails under an IAMAT: the server stops itself.
    FailSync,
    /// The disk is full under an IAMAT (the server stops itself), then freed.
    Full,
}

impl PowerFault {
    pub const ALL: [PowerFault; 6] = [
        PowerFault::LoseOne,
        PowerFault::LoseAll,
        PowerFault::Torn,
        PowerFault::FlipBit,
        PowerFault::FailSync,
        PowerFault::Full,
    ];
}

/// The steps of `fault` from `start`: its load or disk step (at `servers[0]`; the load's
/// clients are `{load}N`, the IAMAT under a failing disk is `disk`'s), then every server of
/// `servers` crashed (losing power) and restarted `down` later. The crash comes at `start`,
/// 1 to 40 ms into the load, or [`FAILED_DISK_DOWN`] after a failing disk.
pub fn power_fault_steps(
    fault: PowerFault,
    rng: &mut SmallRng,
    servers: &[String],
    start: Duration,
    down: Duration,
    load: String,
    disk: String,
) -> Vec<(Duration, Action)> {
    let server = servers[0].clone();
    let on_disk = |fault| {
        Action::Disk(DiskStep {
            server: server.clone(),
            fault,
        })
    };
    let mut steps = Vec::new();
    let mut crash_at = start;
    match fault {
        PowerFault::Torn => {
            let load = Load {
                server: server.clone(),
                clients: rng.random_range(50..=200),
                connections: rng.random_range(1..=4),
                prefix: load,
                per_second: None,
            };
            steps.push((start, Action::Load(load)));
            crash_at = start + ms(rng.random_range(1..=40));
        }
        PowerFault::FlipBit => steps.push((start, on_disk(DiskFaultKind::FlipBit))),
        PowerFault::FailSync | PowerFault::Full => {
            let kind = match fault {
                PowerFault::Full => DiskFaultKind::Full,
                _ => DiskFaultKind::FailSync,
            };
            steps.push((start, on_disk(kind)));
            let iamat = IamAt {
                client: disk,
                server: server.clone(),
                location: "+12.5-45.25".into(),
                timestamp: None,
            };
            steps.push((start, Action::IamAt(iamat)));
            crash_at = start + FAILED_DISK_DOWN;
            if kind == DiskFaultKind::Full {
                steps.push((crash_at, on_disk(DiskFaultKind::Freed)));
            }
        }
        PowerFault::LoseOne | PowerFault::LoseAll => {}
    }
    for server in servers {
        steps.push((crash_at, Action::Crash(server.clone())));
    }
    for server in servers {
        steps.push((crash_at + down, Action::Restart(server.clone())));
    }
    steps
}

impl Draft<'_> {
    /// Power losses and disk faults (the herd keeps its tables on disk): one server losing
    /// power, all of them at once, one in the middle of a burst of load (writes torn in
    /// flight), a bit flipped at rest while it is down, a failed sync or a full disk under an
    /// IAMAT (the server stops itself; it is crashed and restarted, after `freed`). Never over
    /// another crash of the same server.
    pub(super) fn power_faults(&mut self) {
        // Its own random stream, so that no other family's steps move when this one is on.
        let own = SmallRng::seed_from_u64(self.options.seed ^ 0x0D15_C0DE_u64);
        let others = std::mem::replace(&mut self.rng, own);
        // A reorder probe's WHATSAT may wait for Places up to `places_timeout`: no power
        // fault may take its server down before it is answered.
        let limits = &self.herd.limits;
        let probes_answered = limits.places_timeout + limits.whatsat_wait + ms(1000);
        let from_ms = self.faults_from_ms
            + if self.options.reorder_probes > 0 {
                probes_answered.as_millis() as u64
            } else {
                0
            };
        for i in 0..self.options.power_faults {
            let kind = self.rng.random_range(0..6);
            let start = self.at(from_ms, self.chaos_ms().saturating_sub(2500));
            let down = self.at(300, 2000);
            let servers = match kind {
                1 => self.servers.clone(),
                _ => vec![self.server()],
            };
            let end = start + FAILED_DISK_DOWN + down;
            if end > self.options.chaos_end || servers.iter().any(|s| self.down_near(s, start, end))
            {
                continue;
            }
            let fault = PowerFault::ALL[kind];
            let (load, disk) = (format!("power{i}-"), format!("disk{i}"));
            let steps = power_fault_steps(fault, &mut self.rng, &servers, start, down, load, disk);
            for (at, action) in steps {
                self.push(at, action);
            }
        }
        self.rng = others;
    }

    /// Whether `server` is down, or crashes or restarts, within 200 ms of `[from, to]`.
    pub(super) fn down_near(&self, server: &str, from: Duration, to: Duration) -> bool {
        let steps = self.steps.iter().map(|(at, action, _)| (*at, action));
        down_near(steps, server, from, to)
    }
}

/// Whether `server` is down, or crashes or restarts, within 200 ms of `[from, to]`, by the
/// crashes and restarts among `steps` (in any order).
pub fn down_near<'a>(
    steps: impl IntoIterator<Item = (Duration, &'a Action)>,
    server: &str,
    from: Duration,
    to: Duration,
) -> bool {
    let (from, to) = (from.saturating_sub(ms(200)), to + ms(200));
    let mut steps: Vec<(Duration, bool)> = steps
        .into_iter()
        .filter_map(|(at, action)| match action {
            Action::Crash(s) if s == server => Some((at, true)),
            Action::Restart(s) if s == server => Some((at, false)),
            _ => None,
        })
        .collect();
    steps.sort();
    let mut down_since = None;
    for (at, crash) in steps {
        if crash {
            down_since = Some(at);
        } else if let Some(since) = down_since.take()
            && since <= to
            && at >= from
        {
            return true;
        }
    }
    down_since.is_some_and(|since| since <= to)
}
