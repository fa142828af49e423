//! The next connection a listener accepts, or none once a stop is asked: the client port's
//! accept loop and the peer port's share it.

use std::time::Duration;

use tokio::task::JoinSet;

use crate::net::{BoxStream, Listener};
use crate::shutdown::Shutdown;

/// Pause after a failed accept (e.g. out of file descriptors) before accepting again.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Waits for the next connection on `listener`, reaping finished `handlers` meanwhile; `None`
/// once `shutdown` is asked. Accept errors are transient: each is logged as `failure` and
/// retried after a pause rather than spun on.
pub async fn next_connection<T: 'static>(
    listener: &mut dyn Listener,
    handlers: &mut JoinSet<T>,
    shutdown: &mut Shutdown,
    failure: &str,
) -> Option<(BoxStream, String)> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = handlers.join_next(), if !handlers.is_empty() => continue,
            _ = shutdown.wait() => return None,
        };
        match accepted {
            Ok(accepted) => return Some(accepted),
            Err(e) => {
                tracing::warn!(error = %e, "{failure}");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
            }
        }
    }
}
