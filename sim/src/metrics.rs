//! Run metrics for the report and snapshots: flooding cost per update, reconciliation cost,
//! convergence time, replies. Measured, not judged; `Display` is stable text.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use server::events::Event;

use crate::checkers::{RunRecord, convergence};
use crate::trace::{SimEvent, What, fmt_at, replay};

/// What a run cost and how fast it settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Distinct records accepted from clients (`record_stored` new with `source=client`).
    pub updates: usize,
    /// `flood_sent` events.
    pub flood_messages: usize,
    /// Distinct updates seen in `flood_sent`.
    pub flooded_updates: usize,
    /// `reconcile` events (links coming up) and the records they sent.
    pub reconnects: usize,
    pub reconcile_records: u64,
    /// Convergence time after the last fault, if the herd converged.
    pub convergence: Option<Duration>,
    /// Whether the run had a fault ([`RunRecord::faulted`]): the convergence time counts from
    /// the last one, else from the start.
    pub faulted: bool,
    pub commands: usize,
    pub replies: usize,
    pub client_errors: usize,
}

/// Measures a run.
pub fn metrics(run: &RunRecord) -> Metrics {
    let mut m = Metrics::default();
    let mut updates = BTreeSet::new();
    let mut flooded = BTreeSet::new();
    for event in &run.trace.events {
        if let Some(record) = replay::client_update(event) {
            let (origin, client, timestamp, location, _) = replay::update_key(record);
            updates.insert((origin, client, timestamp, location));
            continue;
        }
        match &event.what {
            What::Server(Event::FloodSent { record, .. }) => {
                m.flood_messages += 1;
                flooded.insert(replay::update_key(record));
            }
            What::Server(Event::Reconcile { records, .. }) => {
                m.reconnects += 1;
                m.reconcile_records += records;
            }
            What::Sim(SimEvent::ClientSend { .. }) => m.commands += 1,
            What::Sim(SimEvent::ClientReply { .. }) => m.replies += 1,
            What::Sim(SimEvent::ClientError { .. }) => m.client_errors += 1,
            _ => {}
        }
    }
    m.updates = updates.len();
    m.flooded_updates = flooded.len();
    m.convergence = convergence::analyse(run).convergence_time(run.quiet_since);
    m.faulted = run.faulted;
    m
}

impl Metrics {
    /// Flood messages per client update, two decimals, or `n/a` without updates.
    pub fn messages_per_update(&self) -> String {
        if self.updates == 0 {
            return "n/a".to_string();
        }
        let hundredths = self.flood_messages * 100 / self.updates;
        format!("{}.{:02}", hundredths / 100, hundredths % 100)
    }
}

impl fmt::Display for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "updates: {}", self.updates)?;
        writeln!(
            f,
            "flood messages: {} ({} per update)",
            self.flood_messages,
            self.messages_per_update()
        )?;
        writeln!(
            f,
            "reconciliation: {} records over {} reconnects",
            self.reconcile_records, self.reconnects
        )?;
        match self.convergence {
            Some(d) => writeln!(
                f,
                "convergence: {} {}",
                fmt_at(d),
                convergence::since_words(self.faulted)
            )?,
            None => writeln!(f, "convergence: not reached")?,
        }
        writeln!(
            f,
            "replies: {} of {} commands, {} client errors",
            self.replies, self.commands, self.client_errors
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;
    use crate::scenario::Checks;

    const KIWI: &str = "AT Clark +0.000001000 kiwi +34.068930-118.445127 1700000000.5";

    #[test]
    fn metrics_count_floods_per_update_and_print_stably() {
        let mut events = vec![send(
            0,
            0,
            "kiwi",
            "Clark",
            "IAMAT kiwi +34.068930-118.445127 1700000000.5",
        )];
        events.push(stored(1, "Clark", KIWI, "new"));
        events.push(flood(1, "Clark", "Bona", KIWI));
        events.push(flood(1, "Clark", "Jaquez", KIWI));
        events.push(reply(2, 0, "kiwi", "Clark", &format!("{KIWI}\n")));
        for server in ["Bona", "Jaquez", "Bailey", "Campbell"] {
            events.push(stored(3, server, KIWI, "new"));
        }
        events.push(flood(3, "Bona", "Bailey", KIWI));
        let trace = trace(events);
        let checks = Checks::default();
        let m = metrics(&run_record(&trace, &checks));
        assert_eq!(m.updates, 1);
        assert_eq!(m.messages_per_update(), "3.00");
        assert_eq!(
            m.to_string(),
            "updates: 1\nflood messages: 3 (3.00 per update)\nreconciliation: 0 records over 0 reconnects\nconvergence: 0.003s after the start (no faults)\nreplies: 1 of 1 commands, 0 client errors\n"
        );
    }
}
