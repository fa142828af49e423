//! The classic resends rule: a record from a classic peer that is stale shows that some
//! classic neighbour holds an old record for that client, and the server cannot tell which:
//! each of its classic neighbours is sent its record for the client once more. That resend
//! answers one stale crossing and is not counted against the flood bound; one is owed per
//! server, classic neighbour and client however many stale records arrived before it went.

use std::collections::BTreeSet;

use server::events::{Event, Source};
use server::store::Outcome;

use super::Seen;
use crate::checkers::RunRecord;

/// The classic resends owed, as (server, classic neighbour, client).
#[derive(Default)]
pub(super) struct ClassicResends {
    owed: BTreeSet<(String, String, String)>,
}

impl ClassicResends {
    pub(super) fn lose_memory(&mut self, server: &str) {
        self.owed.retain(|(owing, _, _)| owing != server);
    }

    /// A stale record from a classic peer: every classic neighbour is owed a resend.
    pub(super) fn observe(&mut self, run: &RunRecord, seen: &Seen) {
        if let Event::RecordStored {
            record,
            outcome: Outcome::Stale,
            source: Source::Classic,
        } = seen.event
        {
            for neighbour in run.classic_neighbours(seen.host) {
                self.owed.insert((
                    seen.host.to_string(),
                    neighbour.to_string(),
                    record.client.clone(),
                ));
            }
        }
    }

    /// Whether a flood (server, neighbour, client) is a resend that was owed; it is then
    /// paid.
    pub(super) fn take(&mut self, attempt: &(String, String, String)) -> bool {
        self.owed.remove(attempt)
    }
}
