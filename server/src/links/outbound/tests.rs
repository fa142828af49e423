//! The dialler's wait for `LINKED`, against a scripted neighbour on an in-memory connection
//! that reads `PEER`, answers `HELLO`, reads `AUTH` and never answers it.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::time::Instant;

use super::*;
use crate::config::Herd;
use crate::net::FixedClock;
use crate::places::PlacesClient;

/// When the neighbour links in to the dialler, if it does.
#[derive(Clone, Copy)]
enum LinkIn {
    Never,
    /// Once it has read the `PEER` line, before it answers `HELLO`.
    BeforeAuth,
    /// This long after it read the `AUTH` line.
    AfterAuth(Duration),
}

/// Bailey dials Bona, whose `LINKED` never comes; returns why the dial ended and how long
/// after its `AUTH` (time is paused: everything before the `AUTH` takes none).
async fn unanswered_dial(link_in: LinkIn) -> (LinkEnd, Duration) {
    let shared = Shared::new(
        &Herd::default_herd(),
        "Bailey",
        Arc::new(FixedClock),
        PlacesClient::offline(),
        1,
    );
    let (ours, theirs) = tokio::io::duplex(4096);
    let (_trigger, mut shutdown) = crate::shutdown::channel();
    let neighbour = async {
        let (read_half, mut writer) = tokio::io::split(theirs);
        let mut lines = BufReader::new(read_half).lines();
        let peer = lines.next_line().await.expect("read").expect("a PEER line");
        assert!(peer.starts_with("PEER Bailey "), "{peer}");
        if let LinkIn::BeforeAuth = link_in {
            shared.linked_in("Bona");
        }
        writer.write_all(b"HELLO\n").await.expect("write");
        let auth = lines
            .next_line()
            .await
            .expect("read")
            .expect("an AUTH line");
        assert!(auth.starts_with("AUTH "), "{auth}");
        if let LinkIn::AfterAuth(after) = link_in {
            tokio::time::sleep(after).await;
            shared.linked_in("Bona");
        }
        // The connection stays open and silent.
        std::future::pending::<()>().await;
    };
    let started = Instant::now();
    let dial = dial_handshake("Bona", Box::new(ours), &shared, &mut shutdown);
    let ended = tokio::select! {
        dialled = dial => match dialled {
            Ok(_) => panic!("the dial linked with no LINKED"),
            Err(end) => end.reason,
        },
        () = neighbour => unreachable!("the neighbour never finishes"),
    };
    (ended, started.elapsed())
}

/// A silent neighbour that never links in may be holding `LINKED` back for a refill: the
/// dial waits `heartbeat_timeout + fill_wait`.
#[tokio::test(start_paused = true)]
async fn an_unanswered_dial_waits_out_a_refill_of_the_neighbour() {
    let limits = Herd::default_herd().limits;
    let (end, waited) = unanswered_dial(LinkIn::Never).await;
    assert_eq!(end, LinkEnd::HandshakeTimedOut);
    assert_eq!(waited, limits.heartbeat_timeout + limits.fill_wait());
}

/// A neighbour that links in while the dial waits is up and reaches us: its answer is owed
/// within `heartbeat_timeout` of the `AUTH`, and once that has passed the dial ends at once.
#[tokio::test(start_paused = true)]
async fn a_neighbour_that_links_in_leaves_the_dial_heartbeat_timeout() {
    let timeout = Herd::default_herd().limits.heartbeat_timeout;
    let soon = LinkIn::AfterAuth(Duration::from_secs(1));
    assert_eq!(
        unanswered_dial(soon).await,
        (LinkEnd::HandshakeTimedOut, timeout),
        "a link-in 1 s after the AUTH"
    );
    let late = Duration::from_secs(5);
    assert_eq!(
        unanswered_dial(LinkIn::AfterAuth(late)).await,
        (LinkEnd::HandshakeTimedOut, late),
        "a link-in 5 s after the AUTH"
    );
}

/// A link-in during the dial's first lines counts as well as one during its wait.
#[tokio::test(start_paused = true)]
async fn a_link_in_before_the_auth_counts() {
    let timeout = Herd::default_herd().limits.heartbeat_timeout;
    assert_eq!(
        unanswered_dial(LinkIn::BeforeAuth).await,
        (LinkEnd::HandshakeTimedOut, timeout)
    );
}
