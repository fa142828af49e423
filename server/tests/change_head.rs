//! The change head that links watch, under the binary's multi-threaded runtime: stores from
//! several threads publish it in any order, and it must still only move forward. (Threads stay
//! out of the library and its unit tests; the simulation runs on one.)

use std::sync::Arc;

use server::commands::iamat;
use server::config::Herd;
use server::net::Clock;
use server::places::PlacesClient;
use server::protocol::Command;
use server::state::Shared;

/// A clock that never moves: every IAMAT gets the same receipt time.
struct FixedClock;

impl Clock for FixedClock {
    fn now_nanos(&self) -> i128 {
        1_700_000_000_000_000_000
    }
}

/// The change head that links watch never moves back, even when IAMATs are stored from
/// several threads at once (the binary's runtime is multi-threaded). A head that moved
/// back from 6 to 5 left a link at cursor 5 believing it had sent everything, and change 6
/// waited for the next change to be sent.
#[test]
fn the_change_head_links_watch_never_moves_back_under_concurrent_stores() {
    const WRITERS: usize = 4;
    const RECORDS_EACH: usize = 4_000;
    let mut herd = Herd::default_herd();
    herd.limits.line_bytes_max = 4096;
    herd.limits.client_id_bytes_max = 64;
    herd.validate().expect("valid limits");
    let shared = Arc::new(Shared::new(
        &herd,
        "Bailey",
        Arc::new(FixedClock),
        PlacesClient::offline(),
        1,
    ));
    let changes = shared.watch_changes();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut seen = 0u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let head = *changes.borrow();
                if head < seen {
                    return Err(format!("the watched head moved back from {seen} to {head}"));
                }
                seen = head;
            }
            Ok(changes)
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                for i in 0..RECORDS_EACH {
                    let line = format!("IAMAT w{w}c{i} +1-1 1700000000");
                    let Ok(Command::IAmAt {
                        client,
                        location,
                        timestamp,
                    }) = Command::parse_line(line.as_bytes())
                    else {
                        panic!("a valid IAMAT");
                    };
                    iamat(&shared, client, location, timestamp, line.as_bytes());
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("a writer");
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let changes = watcher
        .join()
        .expect("the watcher")
        .expect("a head that never moved back");
    assert_eq!(
        *changes.borrow(),
        shared.store().head(),
        "the last change is watched"
    );
}
