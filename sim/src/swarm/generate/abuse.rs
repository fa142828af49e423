//! The families that abuse a server from the client side: bad lines, bursts of pipelined
//! load, and hostile clients (huge ids, held connections, forged link and classic lines).

use super::*;

/// How far ahead of the run's start a forged classic line's timestamp lies: 23 hours, inside
/// the default `timestamp_ahead_max` (a day), so only the classic fence keeps it out, and
/// stored it would silence the real client's updates for most of a day.
const FORGED_CLASSIC_AHEAD_SECS: u64 = 23 * 3600;

impl Draft<'_> {
    /// Bad lines, with no `expect`: the server may be down when one is sent, and `well_formed`
    /// already judges every reply a server does send.
    pub(super) fn bad_inputs(&mut self) {
        for i in 0..self.options.bad_inputs {
            let server = self.server();
            let payload = match self.rng.random_range(0..5) {
                0 => RawPayload::Line("IAMAT kiwi +91+0 1700000000".into()),
                1 => RawPayload::Line("WHATSAT kiwi 51 5".into()),
                2 => RawPayload::Line("PING 1".into()),
                3 => RawPayload::Hex(vec![0x49, 0xff, 0xfe, 0x0a]),
                _ => RawPayload::Repeat {
                    byte: b'x',
                    count: 70_000,
                    newline: true,
                },
            };
            let raw = Raw {
                server,
                client: format!("mallory{i}"),
                payload,
            };
            let at = self.at(0, self.chaos_ms());
            self.push(at, Action::Raw(raw));
        }
    }

    /// Bursts of pipelined IAMATs for fresh client ids at one server, during the chaos phase.
    pub(super) fn loads(&mut self) {
        for i in 0..self.options.loads {
            let load = Load {
                server: self.server(),
                clients: self.rng.random_range(20..=200),
                connections: self.rng.random_range(1..=4),
                prefix: format!("load{i}-"),
                per_second: self
                    .rng
                    .random_bool(0.3)
                    .then(|| self.rng.random_range(100..=2000)),
            };
            let at = self.at(0, self.chaos_ms());
            self.push(at, Action::Load(load));
        }
    }

    /// Hostile clients. Every forged record is one no herd may store. A forged classic line
    /// claims a server of the herd (the one it is sent to, a neighbour that authenticates, a
    /// classic neighbour or any other) as origin, with a timestamp within every bound: a
    /// server with classic neighbours must refuse it because it comes from no classic
    /// neighbour's address or names an origin no classic line may carry, and a server
    /// without them takes no `AT` line from a client at all.
    pub(super) fn hostiles(&mut self) {
        for _ in 0..self.options.hostiles {
            let server = self.server();
            let victim = CLIENTS[self.rng.random_range(0..CLIENTS.len())];
            let neighbour = self.server();
            let hostile = match self.rng.random_range(0..5) {
                0 => Hostile::lines(
                    server,
                    &[format!("AT Zulu +0.000000000 {victim} +0+0 1700000099")],
                ),
                1 => Hostile::lines(
                    server,
                    &[format!(
                        "AT {neighbour} +0.000000000 {victim} +0+0 {}",
                        self.options.start.as_secs() + FORGED_CLASSIC_AHEAD_SECS
                    )],
                ),
                2 => Hostile::lines(
                    server,
                    &[
                        format!("PEER {neighbour} 1"),
                        "AUTH 0 1".to_string(),
                        format!("AT Zulu +0.1 {victim} +1+1 1700000099"),
                    ],
                ),
                3 => Hostile {
                    huge_id_bytes: Some(self.rng.random_range(1500..=70_000)),
                    ..Hostile::lines(server, &[])
                },
                _ => Hostile {
                    hold_connections: self.rng.random_range(5..=50),
                    hold_for: Some(Duration::from_secs(self.rng.random_range(1..=3))),
                    ..Hostile::lines(server, &[])
                },
            };
            let at = self.at(0, self.chaos_ms());
            self.push(at, Action::Hostile(hostile));
        }
    }
}
