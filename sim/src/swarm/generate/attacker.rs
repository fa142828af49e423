//! The attacker family: an impostor at a down server's address, handshake stallers at a rate,
//! forged classic lines, and tampering on a live link, drawn on their own random stream so no
//! other family's steps move when it is on.

use super::*;
use crate::scenario::{Impostor, ImpostorCertificate, Stall, Tamper, TamperMode};

/// The tamper modes the family draws. Links run over TLS, so an injected or altered byte ends
/// the link, which links again and resumes (on plain links the record was stored and flooded:
/// only `replay` was drawn then). A replay over TLS ends the link too.
const TAMPER_MODES_DRAWN: [&str; 3] = ["inject", "alter", "replay"];
/// How far ahead of the run's start a forged classic line's timestamp lies (as the hostile
/// family's): inside `timestamp_ahead_max`, so only the classic fence keeps it out.
const FORGED_AHEAD_SECS: u64 = 23 * 3600;

impl Draft<'_> {
    /// `attacks` attacks, each of one kind: an impostor that takes a server's address while
    /// it is down (it crashes, the impostor answers its neighbours' dials, it restarts), a
    /// burst of handshake stallers claiming a persistent neighbour, forged classic lines (at a
    /// server with a classic neighbour when the herd has one), or a tamper on a live link.
    /// `herd` is the herd the seed runs (its classic links drawn).
    pub(super) fn attacks(&mut self, herd: &Herd) {
        // Its own random stream, so that no other family's steps move when this one is on.
        let own = SmallRng::seed_from_u64(self.options.seed ^ 0xA77A_C4E5_u64);
        let others = std::mem::replace(&mut self.rng, own);
        for i in 0..self.options.attacks {
            match self.rng.random_range(0..4) {
                0 => self.impostor(herd),
                1 => self.stallers(herd),
                2 => self.forged_classic(herd, i),
                _ => self.tamper(herd),
            }
        }
        self.rng = others;
    }

    /// A server crashes, an impostor takes its address 100 ms later (showing no certificate,
    /// one of another CA, or another server's), the server restarts 1 to 3 s after its crash. After the reorder probes (a hold cannot meet a crash of its
    /// hosts), never over another crash of the same server. Never at a server with a classic
    /// neighbour: a classic link proves nothing and sends its records to whatever holds the
    /// address (its trust rests on the network). Never while a hostile client writes to that
    /// address: the impostor would read the client's forged lines as if a server had sent them.
    fn impostor(&mut self, herd: &Herd) {
        let from_ms = self.faults_from_ms
            + if self.options.reorder_probes > 0 {
                let limits = &self.herd.limits;
                (limits.places_timeout + limits.whatsat_wait + ms(1000)).as_millis() as u64
            } else {
                0
            };
        let server = self.server();
        let start = self.at(from_ms, self.chaos_ms().saturating_sub(3500));
        let down = ms(self.rng.random_range(1000..=3000) / 10 * 10);
        let classic = herd.neighbours(&server).iter().any(|n| n.classic);
        if classic
            || start + down > self.options.chaos_end
            || self.down_near(&server, start, start + down)
            || self.written_near(&server, start, start + down)
            || self
                .steps
                .iter()
                .any(|(_, action, _)| matches!(action, Action::Tamper(t) if t.to == server))
        {
            return;
        }
        let others: Vec<String> = self
            .servers
            .iter()
            .filter(|s| **s != server)
            .cloned()
            .collect();
        let certificate = match self.rng.random_range(0..3) {
            0 => ImpostorCertificate::None,
            1 if !others.is_empty() => {
                ImpostorCertificate::Of(others[self.rng.random_range(0..others.len())].clone())
            }
            _ => ImpostorCertificate::OtherCa,
        };
        let impostor = Impostor {
            server: server.clone(),
            certificate,
        };
        self.push(start, Action::Crash(server.clone()));
        self.push(start + ms(100), Action::Impostor(impostor));
        self.push(start + down, Action::Restart(server));
    }

    /// Whether a hostile or raw client writes to `server` within 500 ms of `[from, to]`.
    fn written_near(&self, server: &str, from: Duration, to: Duration) -> bool {
        let (from, to) = (from.saturating_sub(ms(500)), to + ms(500));
        self.steps.iter().any(|(at, action, _)| {
            (from..=to).contains(at)
                && matches!(action, Action::Hostile(_) | Action::Raw(_))
                && action.server() == Some(server)
        })
    }

    /// Stallers at a server, claiming one of its persistent neighbours, 20 to 300 a second
    /// for 1 to 3 s.
    fn stallers(&mut self, herd: &Herd) {
        let server = self.server();
        let neighbours: Vec<String> = herd
            .neighbours(&server)
            .into_iter()
            .filter(|n| !n.classic)
            .map(|n| n.name)
            .collect();
        if neighbours.is_empty() {
            return;
        }
        let stall = Stall {
            name: neighbours[self.rng.random_range(0..neighbours.len())].clone(),
            per_second: self.rng.random_range(20..=300),
            stall_for: Duration::from_secs(self.rng.random_range(1..=3)),
        };
        let at = self.at(0, self.chaos_ms().saturating_sub(3000));
        let hostile = Hostile {
            stall: Some(stall),
            ..Hostile::lines(server, &[])
        };
        self.push(at, Action::Hostile(hostile));
    }

    /// A client that is no neighbour sends `AT` lines as a classic peer would: to a server
    /// with a classic neighbour when the herd has one, claiming that neighbour, the server
    /// itself or one of its persistent neighbours as origin. Every one must be refused.
    fn forged_classic(&mut self, herd: &Herd, i: u32) {
        let classic: Vec<(String, String)> = herd
            .links
            .iter()
            .filter(|l| l.classic)
            .flat_map(|l| {
                let [a, b] = l.between.clone();
                [(a.clone(), b.clone()), (b, a)]
            })
            .collect();
        let (server, origin) = if classic.is_empty() {
            (self.server(), self.server())
        } else {
            let (server, peer) = classic[self.rng.random_range(0..classic.len())].clone();
            let persistent: Vec<String> = herd
                .neighbours(&server)
                .into_iter()
                .filter(|n| !n.classic)
                .map(|n| n.name)
                .collect();
            let origin = match self.rng.random_range(0..3) {
                0 => peer,
                1 if !persistent.is_empty() => {
                    persistent[self.rng.random_range(0..persistent.len())].clone()
                }
                _ => server.clone(),
            };
            (server, origin)
        };
        let victim = CLIENTS[self.rng.random_range(0..CLIENTS.len())];
        let ahead = self.options.start.as_secs() + FORGED_AHEAD_SECS;
        let line = format!("AT {origin} +0.000000000 {victim} +{i}+{i} {ahead}");
        let at = self.at(0, self.chaos_ms());
        self.push(at, Action::Hostile(Hostile::lines(server, &[line])));
    }

    /// A tamper on one direction of a persistent link of the herd (a classic link has no TLS:
    /// an injected or altered record there is the classic dialect's known limit), in a mode of
    /// [`TAMPER_MODES_DRAWN`], towards no server an impostor stands in for in the run (the
    /// impostor would read the attacker's own bytes as a server's).
    fn tamper(&mut self, herd: &Herd) {
        let impostors: Vec<String> = self
            .steps
            .iter()
            .filter_map(|(_, action, _)| match action {
                Action::Impostor(i) => Some(i.server.clone()),
                _ => None,
            })
            .collect();
        let links: Vec<[String; 2]> = herd
            .links
            .iter()
            .filter(|l| !l.classic)
            .map(|l| l.between.clone())
            .collect();
        if links.is_empty() {
            return;
        }
        let [a, b] = links[self.rng.random_range(0..links.len())].clone();
        let (from, to) = if self.rng.random_bool(0.5) {
            (a, b)
        } else {
            (b, a)
        };
        if impostors.contains(&to) {
            return;
        }
        let mode = match TAMPER_MODES_DRAWN[self.rng.random_range(0..TAMPER_MODES_DRAWN.len())] {
            "inject" => TamperMode::Inject(b"AT Zulu +0.1 mallory +1+1 1700000099\n".to_vec()),
            "alter" => TamperMode::Alter(self.rng.random_range(1..=4)),
            _ => TamperMode::Replay(self.rng.random_range(100..=4000)),
        };
        let at = self.at(0, self.chaos_ms());
        self.push(at, Action::Tamper(Tamper { from, to, mode }));
    }
}
