//! Run metrics for the report and snapshots: flooding cost per update, reconciliation cost,
//! convergence time, replies. Measured, not judged; `Display` is stable text.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use server::events;

use super::{RunRecord, convergence, flood_bound, replay};
use crate::trace::{self, fmt_at};

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
    /// `peer_queue_full` events: records dropped for reconciliation to repair.
    pub peer_queue_full: usize,
    /// Convergence time after the last fault, if the herd converged.
    pub convergence: Option<Duration>,
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
        match event.name.as_str() {
            events::RECORD_STORED
                if replay::stored_new(event) && event.field("source") == Some("client") =>
            {
                let key = ["origin", "client", "timestamp", "location"]
                    .map(|k| event.field(k).unwrap_or("").to_string());
                updates.insert(key);
            }
            events::FLOOD_SENT if event.host != trace::HARNESS_HOST => {
                m.flood_messages += 1;
                flooded.insert(flood_bound::update_key(event));
            }
            events::RECONCILE => {
                m.reconnects += 1;
                m.reconcile_records += event
                    .field("records")
                    .and_then(|r| r.parse::<u64>().ok())
                    .unwrap_or(0);
            }
            events::PEER_QUEUE_FULL => m.peer_queue_full += 1,
            trace::CLIENT_SEND if event.host == trace::HARNESS_HOST => m.commands += 1,
            trace::CLIENT_REPLY if event.host == trace::HARNESS_HOST => m.replies += 1,
            trace::CLIENT_ERROR if event.host == trace::HARNESS_HOST => m.client_errors += 1,
            _ => {}
        }
    }
    m.updates = updates.len();
    m.flooded_updates = flooded.len();
    m.convergence = convergence::analyse(run).convergence_time(run.quiet_since);
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
        writeln!(f, "peer queue overflows: {}", self.peer_queue_full)?;
        match self.convergence {
            Some(d) => writeln!(f, "convergence: {} after the last fault", fmt_at(d))?,
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
    use super::super::testing::*;
    use super::*;
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
            "updates: 1\nflood messages: 3 (3.00 per update)\nreconciliation: 0 records over 0 reconnects\npeer queue overflows: 0\nconvergence: 0.003s after the last fault\nreplies: 1 of 1 commands, 0 client errors\n"
        );
    }
}
