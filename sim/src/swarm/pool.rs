//! The swarm's worker pool: items run on `jobs` threads with big stacks (a simulation nests
//! deep futures), results back in item order. The simulated swarm, the real one and `--jobs`
//! on files share it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A worker thread's stack: a simulation nests deep futures.
const THREAD_STACK_BYTES: usize = 16 * 1024 * 1024;

/// Runs under `jobs` threads: `f` on every item, `done` after each; results in item order.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: &(dyn Fn(&T) -> R + Sync),
    done: &(dyn Fn(&R) + Sync),
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for worker in 0..jobs.clamp(1, items.len().max(1)) {
            let (next, results) = (&next, &results);
            let spawned = std::thread::Builder::new()
                .name(format!("swarm-{worker}"))
                .stack_size(THREAD_STACK_BYTES)
                .spawn_scoped(scope, move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(item) = items.get(i) else { break };
                        let result = f(item);
                        done(&result);
                        if let Ok(mut all) = results.lock() {
                            all.push((i, result));
                        }
                    }
                });
            if let Err(e) = spawned {
                eprintln!("cannot start worker thread: {e}");
            }
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
