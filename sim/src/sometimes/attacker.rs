//! The attacker's properties: an impostor at a down server's address was dialled, handshake
//! stallers held connections at a server, an attacker injected, altered or replayed bytes on a
//! live link. Each is read from the attacker's own events in the trace (what it saw and did),
//! never from the steps the generator meant.

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

/// An attacker on a live link did `mode` (`inject`, `alter`, `replay`) to some bytes.
pub(super) fn tampered(run: &RunRecord, mode: &str) -> bool {
    sim_events(run).any(|e| {
        matches!(e, SimEvent::Tampered { mode: done, bytes, .. }
            if done.starts_with(mode) && !bytes.is_empty())
    })
}
