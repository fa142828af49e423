//! The storm and restart phases on a fresh herd: pipelined IAMATs into four servers at once
//! until every server holds every record, memory per record, then one server SIGKILLed and
//! restarted; each phase measured from the servers' logs, then written as rows and JSON.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use crate::herd::{Herd, NAMES};
use crate::logs::{self, Tail};
use crate::{
    Options, RESTARTED, STORM_INTO, TARGET_RESTART_RESENT, TARGET_RESTART_S, TARGET_RSS_BYTES,
    TARGET_STORM_CONVERGE_S, TARGET_STORM_RESENT, cleanup, met, storm, sums, wait_links_up,
    work_dir,
};

/// What the storm measured, for its rows and its JSON.
struct Storm {
    records: usize,
    replies: u64,
    batch_errors: Vec<String>,
    first_send_us: i64,
    last_send_us: i64,
    last_reply_s: f64,
    converged: bool,
    held_by_log: Vec<usize>,
    /// Per server: replies the clients got that its log does not show.
    log_lost: Vec<(String, u64)>,
    missing: Vec<String>,
    resent: u64,
    reconciles: u64,
    queue_full: u64,
    peer_down: u64,
    since_first: Option<f64>,
    since_last: Option<f64>,
    resent_per_table: f64,
    rss_before: Vec<Option<u64>>,
    rss_after: Vec<Option<u64>>,
    per_record: Vec<Option<f64>>,
}

/// The storm, then the restart, on a fresh herd: their rows go to `table`, their figures
/// are returned as JSON.
pub async fn storm_phases(o: &Options, table: &mut Vec<String>) -> anyhow::Result<Value> {
    let dir = work_dir("storm")?;
    let mut herd = Herd::start(&dir, None)?;
    let storm = measure_storm(o, &mut herd).await?;
    storm_rows(o, &storm, table);
    // The restarted server must get back what its neighbours hold: the table when the storm
    // converged, less when it did not (then the figure says so).
    let herd_holds = (0..NAMES.len())
        .filter(|&i| i != RESTARTED)
        .map(|i| storm.held_by_log[i])
        .max()
        .unwrap_or(0);
    let restart = restart(o, &mut herd, storm.records, herd_holds, table).await?;
    drop(herd);
    cleanup(o, &dir);
    Ok(storm_json(o, &storm, restart))
}

/// Sends the storm into a herd that just started and reads from the logs what it did.
async fn measure_storm(o: &Options, herd: &mut Herd) -> anyhow::Result<Storm> {
    for i in 0..NAMES.len() {
        herd.wait_listening(i, Duration::from_secs(30)).await?;
    }
    let records = o.per_batch * STORM_INTO.len();
    let mut tails: Vec<Tail> = (0..NAMES.len())
        .map(|i| Tail::from_start(&herd.log_path(i), records))
        .collect();
    wait_links_up(&mut tails).await;
    // Start-up events are not storm events.
    let mut tails: Vec<Tail> = (0..NAMES.len())
        .map(|i| Tail::from_end(&herd.log_path(i), records))
        .collect();
    let rss_before: Vec<Option<u64>> = (0..NAMES.len()).map(|i| herd.rss_kib(i)).collect();

    println!(
        "storm: {} x {} pipelined IAMATs into {} ...",
        STORM_INTO.len(),
        o.per_batch,
        STORM_INTO.map(|i| NAMES[i]).join(", ")
    );
    // One bound for the replies and the convergence, from the first send.
    let deadline = Instant::now() + o.converge_timeout;
    let mut sends = tokio::task::JoinSet::new();
    for (batch, &i) in STORM_INTO.iter().enumerate() {
        let (port, count) = (herd.ports[i], o.per_batch);
        sends.spawn(storm::send_batch(port, batch, count, deadline));
    }
    let mut batches = Vec::new();
    while let Some(done) = sends.join_next().await {
        batches.push(done.context("a storm batch panicked")?);
    }
    let first_send_us = batches.iter().map(|b| b.first_send_us).min().unwrap_or(0);
    let last_send_us = batches.iter().map(|b| b.last_send_us).max().unwrap_or(0);
    let last_reply_us = batches.iter().map(|b| b.last_reply_us).max().unwrap_or(0);
    let replies: u64 = batches.iter().map(|b| b.replies).sum();
    let batch_errors: Vec<String> = batches.iter().filter_map(|b| b.error.clone()).collect();
    println!(
        "storm: sent in {:.2} s, {replies}/{records} replies; waiting for every server to hold every record ...",
        (last_send_us - first_send_us) as f64 / 1e6
    );
    let last_reply_s = (last_reply_us - first_send_us) as f64 / 1e6;
    let converged = storm::wait_reached(&mut tails.iter_mut().collect::<Vec<_>>(), deadline).await;
    storm::settle(
        &mut tails.iter_mut().collect::<Vec<_>>(),
        Duration::from_secs(2),
    )
    .await;
    let held_by_log: Vec<usize> = tails.iter().map(|t| t.counts.clients.len()).collect();
    // Replies the clients got that the receiving server's log does not show: lines its
    // writer dropped, so every log-based count of that server is a lower bound.
    let log_lost: Vec<(String, u64)> = STORM_INTO
        .iter()
        .zip(&batches)
        .map(|(&i, b)| {
            let got = b.replies + b.bad;
            (
                NAMES[i].to_string(),
                got.saturating_sub(tails[i].counts.replies),
            )
        })
        .filter(|(_, lost)| *lost > 0)
        .collect();
    let converged_us = tails
        .iter()
        .filter_map(|t| t.counts.reached_at_us)
        .max()
        .filter(|_| converged);
    let missing = storm::last_clients_held(herd, STORM_INTO.len(), o.per_batch).await;
    let resent: u64 = tails.iter().map(|t| t.counts.reconcile_records).sum();
    let reconciles: u64 = tails.iter().map(|t| t.counts.reconciles).sum();
    let (queue_full, peer_down) = sums(&tails);
    let since_first = converged_us.map(|c| (c - first_send_us) as f64 / 1e6);
    let since_last = converged_us.map(|c| (c - last_send_us) as f64 / 1e6);
    let resent_per_table = resent as f64 / records as f64;

    // Per record the server holds (by its log), so a herd that did not converge is not
    // flattered by dividing by records it never stored.
    let rss_after: Vec<Option<u64>> = (0..NAMES.len()).map(|i| herd.rss_kib(i)).collect();
    let per_record: Vec<Option<f64>> = (0..NAMES.len())
        .map(|i| {
            let (b, a) = (rss_before[i]?, rss_after[i]?);
            let held = held_by_log[i].max(1) as f64;
            Some((a as f64 - b as f64) * 1024.0 / held)
        })
        .collect();
    Ok(Storm {
        records,
        replies,
        batch_errors,
        first_send_us,
        last_send_us,
        last_reply_s,
        converged,
        held_by_log,
        log_lost,
        missing,
        resent,
        reconciles,
        queue_full,
        peer_down,
        since_first,
        since_last,
        resent_per_table,
        rss_before,
        rss_after,
        per_record,
    })
}

/// The storm's and the memory's rows of the printed table.
fn storm_rows(o: &Options, storm: &Storm, table: &mut Vec<String>) {
    let &Storm {
        records,
        replies,
        ref batch_errors,
        first_send_us,
        last_send_us,
        last_reply_s,
        ref held_by_log,
        ref log_lost,
        ref missing,
        resent,
        reconciles,
        queue_full,
        peer_down,
        since_first,
        since_last,
        resent_per_table,
        ref rss_before,
        ref rss_after,
        ref per_record,
        ..
    } = storm;
    table.push(String::new());
    table.push(format!(
        "storm: {} x {} pipelined IAMATs (distinct clients) into {}; table {records}",
        STORM_INTO.len(),
        o.per_batch,
        STORM_INTO.map(|i| NAMES[i]).join(", ")
    ));
    table.push(format!(
        "  sent in {:.2} s, {replies} replies, the last {last_reply_s:.2} s after the first send{}",
        (last_send_us - first_send_us) as f64 / 1e6,
        if batch_errors.is_empty() {
            String::new()
        } else {
            format!(" (errors: {})", batch_errors.join("; "))
        }
    ));
    table.push(format!(
        "  resent by reconciliation   {resent} records in {reconciles} reconciliations = {resent_per_table:.2}x table   target <= {TARGET_STORM_RESENT}x: {}",
        met(resent_per_table <= TARGET_STORM_RESENT)
    ));
    table.push(format!(
        "  peer_queue_full events     {queue_full}   peer_down events {peer_down}   target 0 links dropped: {}",
        met(peer_down == 0)
    ));
    match (since_first, since_last) {
        (Some(first), Some(last)) => table.push(format!(
            "  every server held every record {first:.2} s after the first send, {last:.2} s after the last   target <= {TARGET_STORM_CONVERGE_S} s after the last: {}",
            met(last <= TARGET_STORM_CONVERGE_S)
        )),
        _ => table.push(format!(
            "  NOT CONVERGED within {:.0} s of the first send; clients held per server (log): {}   target <= {TARGET_STORM_CONVERGE_S} s after the last send: MISSED",
            o.converge_timeout.as_secs_f64(),
            held(held_by_log)
        )),
    }
    if !log_lost.is_empty() {
        table.push(format!(
            "  LOG LINES LOST (replies received but not logged): {}; log-based counts are lower bounds",
            log_lost
                .iter()
                .map(|(n, l)| format!("{n} {l}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    table.push(format!(
        "  last client of every batch at every server (WHATSAT): {}",
        if missing.is_empty() {
            "yes".to_string()
        } else {
            format!("missing {}", missing.join(", "))
        }
    ));
    table.push(format!(
        "memory: VmRSS (after storm - before) / records held, bytes per record per server   target <= {TARGET_RSS_BYTES}"
    ));
    for (i, name) in NAMES.iter().enumerate() {
        table.push(format!(
            "  {name:<10} {:>8}   ({} -> {} KiB, {} records){}",
            per_record[i].map_or("-".to_string(), |b| format!("{b:.0}")),
            rss_before[i].map_or("-".into(), |k| k.to_string()),
            rss_after[i].map_or("-".into(), |k| k.to_string()),
            held_by_log[i],
            per_record[i].map_or("", |b| if b <= TARGET_RSS_BYTES {
                ""
            } else {
                "  MISSED"
            })
        ));
    }
}

/// The storm's figures (with the restart's) as the JSON report has them.
fn storm_json(o: &Options, storm: &Storm, restart: Value) -> Value {
    json!({
        "batches": STORM_INTO.len(),
        "per_batch": o.per_batch,
        "into": STORM_INTO.map(|i| NAMES[i]),
        "table": storm.records,
        "replies": storm.replies,
        "batch_errors": storm.batch_errors,
        "send_s": (storm.last_send_us - storm.first_send_us) as f64 / 1e6,
        "last_reply_s": storm.last_reply_s,
        "resent_records": storm.resent,
        "reconciliations": storm.reconciles,
        "resent_per_table": storm.resent_per_table,
        "peer_queue_full": storm.queue_full,
        "peer_down": storm.peer_down,
        "converged": storm.converged,
        "converged_after_first_send_s": storm.since_first,
        "converged_after_last_send_s": storm.since_last,
        "clients_held_by_log": NAMES.iter().zip(&storm.held_by_log).map(|(n, h)| (n.to_string(), json!(h))).collect::<serde_json::Map<_, _>>(),
        "last_clients_missing": storm.missing,
        "replies_not_logged": storm.log_lost.iter().map(|(n, l)| (n.clone(), json!(l))).collect::<serde_json::Map<_, _>>(),
        "rss_kib_before": NAMES.iter().zip(&storm.rss_before).map(|(n, v)| (n.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "rss_kib_after": NAMES.iter().zip(&storm.rss_after).map(|(n, v)| (n.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "rss_bytes_per_record": NAMES.iter().zip(&storm.per_record).map(|(n, v)| (n.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "restart": restart,
    })
}

fn held(counts: &[usize]) -> String {
    NAMES
        .iter()
        .zip(counts)
        .map(|(n, c)| format!("{n} {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SIGKILL one server, restart it on its port with empty memory, and watch the logs until it
/// holds the table again; reconciliations of every server in that time are counted.
async fn restart(
    o: &Options,
    herd: &mut Herd,
    records: usize,
    herd_holds: usize,
    table: &mut Vec<String>,
) -> anyhow::Result<Value> {
    let name = NAMES[RESTARTED];
    println!("restart: SIGKILL {name}, start it again on its port ...");
    let mut tails: Vec<Tail> = (0..NAMES.len())
        .map(|i| Tail::from_end(&herd.log_path(i), herd_holds))
        .collect();
    herd.kill(RESTARTED);
    let started_us = logs::now_us();
    herd.spawn(RESTARTED)?;
    herd.wait_listening(RESTARTED, Duration::from_secs(30))
        .await?;
    let listening_us = logs::now_us();
    let deadline = Instant::now() + o.converge_timeout;
    let converged = storm::wait_reached(&mut [&mut tails[RESTARTED]], deadline).await;
    storm::settle(
        &mut tails.iter_mut().collect::<Vec<_>>(),
        Duration::from_secs(3),
    )
    .await;
    let held = tails[RESTARTED].counts.clients.len();
    let after_s = tails[RESTARTED]
        .counts
        .reached_at_us
        .filter(|_| converged)
        .map(|c| (c - started_us) as f64 / 1e6);
    let resent: u64 = tails.iter().map(|t| t.counts.reconcile_records).sum();
    let reconciles: u64 = tails.iter().map(|t| t.counts.reconciles).sum();
    let per_table = resent as f64 / records as f64;
    let step = (o.per_batch / 100).max(1);
    let (asked, missing) =
        storm::sample_missing(herd, RESTARTED, STORM_INTO.len(), o.per_batch, step).await;
    table.push(format!(
        "restart: {name} SIGKILLed and restarted with the herd holding {herd_holds} records{}",
        if herd_holds < records {
            format!(" (not {records}: the storm had not converged)")
        } else {
            String::new()
        }
    ));
    match after_s {
        Some(s) => table.push(format!(
            "  held every record again {s:.2} s after the restart   target <= {TARGET_RESTART_S} s: {}",
            met(s <= TARGET_RESTART_S)
        )),
        None => table.push(format!(
            "  NOT CONVERGED within {:.0} s: {held} of {herd_holds} records   target <= {TARGET_RESTART_S} s: MISSED",
            o.converge_timeout.as_secs_f64()
        )),
    }
    table.push(format!(
        "  resent by reconciliation   {resent} records in {reconciles} reconciliations = {per_table:.2}x table   target <= {TARGET_RESTART_RESENT}x: {}",
        met(per_table <= TARGET_RESTART_RESENT)
    ));
    table.push(format!(
        "  WHATSAT of every {step}th storm client at {name} afterwards: {missing} of {asked} missing"
    ));
    Ok(json!({
        "server": name,
        "table": records,
        "herd_holds": herd_holds,
        "listening_after_s": (listening_us - started_us) as f64 / 1e6,
        "converged": converged,
        "converged_after_s": after_s,
        "held": held,
        "resent_records": resent,
        "reconciliations": reconciles,
        "resent_per_table": per_table,
        "sample_asked": asked,
        "sample_missing": missing,
    }))
}
