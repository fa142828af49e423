//! The attacker's properties: an impostor at a down server's address was dialled, handshake
//! stallers held connections at a server, an attacker replayed bytes on a live link. Each is
//! read from the attacker's own events in the trace (what it saw and did), never from the
//! steps the generator meant.

use crate::checkers::RunRecord;
use crate::trace::SimEvent;

fn sim_events<'a>(run: &'a RunRecord) -> impl Iterator<Item = &'a SimEvent> {
    run.trace.events.iter().filter_map(|e| e.sim_event())
}

/// A server dialled the impostor at a down server's address (it read the `PEER` line).
pub(super) fn impostor_dialled(run: &RunRecord) -> bool {
    sim_events(run)
        .any(|e| matches!(e, SimEvent::ImpostorGot { line, .. } if line.starts_with("PEER ")))
}

/// Handshake stallers opened connections to a server and held them.
pub(super) fn stallers_held(run: &RunRecord) -> bool {
    sim_events(run).any(|e| matches!(e, SimEvent::HostileStall { opened, .. } if *opened > 0))
}

/// An attacker sent a neighbour bytes again that a server had sent it on a live link.
pub(super) fn link_replayed(run: &RunRecord) -> bool {
    sim_events(run).any(|e| {
        matches!(e, SimEvent::Tampered { mode, bytes, .. }
            if mode.starts_with("replay") && !bytes.is_empty())
    })
}
