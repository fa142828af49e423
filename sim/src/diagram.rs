//! Lamport (space-time) diagrams of a trace.

use std::time::Duration;

use crate::scenario::Scenario;
use crate::trace::Trace;

/// The part of the run to draw; `None` means from the start / to the end.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub from: Option<Duration>,
    pub to: Option<Duration>,
}

pub fn svg(_scenario: &Scenario, _trace: &Trace, _window: Window) -> String {
    String::new()
}

pub fn html(_scenario: &Scenario, _trace: &Trace, _window: Window) -> String {
    String::new()
}
