//! What durability costs: the same pipelined load (32 connections to one server, each with
//! [`WINDOW`] IAMATs outstanding) and a propagation probe, on a herd with tables in memory and
//! on one with `--data-dir`, each against the echo baseline under the same load.
//!
//! Propagation: [`PROBES`] IAMATs for fresh clients, one at a time ([`PROBE_GAP`] apart) to
//! one server of an otherwise idle herd; for each, the time from the client's send until the
//! last of the five servers logged storing it (`record_stored`, new), read from the servers'
//! logs (their `ts` against the client's clock: one machine, one clock). p50 and p99.

use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::drive::{self, Check, Conn, Plan, Stats};
use crate::herd::{Herd, NAMES};
use crate::{ONE, Options, ms, work_dir};

/// IAMATs each of the 32 connections keeps outstanding. A durable store acknowledges a record
/// only once it is synced, so its throughput is the records in flight per sync; one
/// outstanding per connection would measure the fsync, not the server. Sixteen is well inside
/// `replies_pending_max` (64), and the same load goes to the in-memory herd and the echo.
pub const WINDOW: usize = 16;
/// Probes per herd, and the pause between them (each one crosses the herd alone).
const PROBES: usize = 200;
const PROBE_GAP: Duration = Duration::from_millis(5);
/// Targets from the herd's promise: durable at half the in-memory rate, fast floods.
const TARGET_DURABLE_SHARE: f64 = 0.5;
const TARGET_PROPAGATION_P99_MS: f64 = 5.0;

/// The load and the probe for durability off, then on; rows for the table and the JSON.
pub async fn phases(o: &Options, table: &mut Vec<String>) -> anyhow::Result<Value> {
    let echo = crate::echo::Echo::start()?;
    let mut out = Vec::new();
    let mut in_memory = None;
    for durable in [false, true] {
        let what = if durable { "durable" } else { "in-memory" };
        let dir = work_dir(&format!("durability-{what}"))?;
        let data_dir = durable.then(|| dir.join("data"));
        let mut herd = Herd::start_with(&dir, None, data_dir, false)?;
        for i in 0..NAMES.len() {
            herd.wait_listening(i, Duration::from_secs(30)).await?;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!("durability: {what} herd ...");
        let plan = |ports: Vec<u16>, check, prefix: String| Plan {
            ports,
            workers: 32,
            conn: Conn::Pipelined(WINDOW),
            check,
            warmup: o.warmup,
            measure: o.measure,
            client_prefix: prefix,
            commands_max: u64::MAX / 2,
        };
        let echo_stats = drive::run(&plan(vec![echo.port], Check::Echo, "echo".into())).await;
        let stats = drive::run(&plan(
            vec![herd.ports[ONE]],
            Check::At,
            format!("dur-{what}"),
        ))
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (p50, p99) = propagation(&herd, what).await?;
        let ratio = stats.throughput() / echo_stats.throughput().max(1e-9);
        let share = in_memory.map(|base: f64| stats.throughput() / base.max(1e-9));
        if !durable {
            in_memory = Some(stats.throughput());
        }
        table.push(row(what, &stats, ratio, p50, p99, share));
        out.push(json!({
            "store": what,
            "echo_replies_per_s": echo_stats.throughput(),
            "herd": crate::stats_json(&stats),
            "ratio_to_echo": ratio,
            "share_of_in_memory": share,
            "propagation_p50_ms": ms(p50),
            "propagation_p99_ms": ms(p99),
        }));
        drop(herd);
        crate::cleanup(o, &dir);
    }
    Ok(Value::Array(out))
}

fn row(what: &str, s: &Stats, ratio: f64, p50: u64, p99: u64, share: Option<f64>) -> String {
    let target = match share {
        Some(share) => format!(
            "{:.0}% of in-memory (target >= {:.0}%: {})",
            share * 100.0,
            TARGET_DURABLE_SHARE * 100.0,
            crate::met(share >= TARGET_DURABLE_SHARE)
        ),
        None => format!(
            "propagation p99 < {TARGET_PROPAGATION_P99_MS} ms: {}",
            crate::met(ms(p99) < TARGET_PROPAGATION_P99_MS)
        ),
    };
    format!(
        "{:<22} {:>10.0} replies/s {:>6.1}% of echo, p99 {:>6.2} ms; propagation p50 {:>6.2} ms p99 {:>6.2} ms; {target}",
        format!("durability: {what}"),
        s.throughput(),
        ratio * 100.0,
        ms(s.p99_us),
        ms(p50),
        ms(p99),
    )
}

/// Sends the probes to one server, then reads every server's log: p50 and p99 (µs) of the time
/// until the last server stored each probe.
async fn propagation(herd: &Herd, what: &str) -> anyhow::Result<(u64, u64)> {
    let stream = TcpStream::connect(("127.0.0.1", herd.ports[ONE]))
        .await
        .context("connect for the propagation probe")?;
    let (read, mut write) = stream.into_split();
    let mut replies = BufReader::new(read).lines();
    let mut sent_us = Vec::with_capacity(PROBES);
    for i in 0..PROBES {
        let line = format!(
            "IAMAT probe-{what}-{i} +1+1 {}.{i:09}\n",
            drive::unix_secs()
        );
        sent_us.push(crate::logs::now_us());
        write.write_all(line.as_bytes()).await?;
        replies.next_line().await?.context("a probe's reply")?;
        tokio::time::sleep(PROBE_GAP).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut last_stored_us = vec![i64::MIN; PROBES];
    let mut stored = vec![0usize; PROBES];
    for i in 0..NAMES.len() {
        let log = std::fs::read_to_string(herd.log_path(i)).unwrap_or_default();
        for line in log.lines().filter(|l| l.contains("\"record_stored\"")) {
            let Ok(Some(parsed)) = server::events::read_log_line(line) else {
                continue;
            };
            let server::events::Event::RecordStored {
                record, outcome, ..
            } = parsed.event
            else {
                continue;
            };
            let probe = record
                .client
                .strip_prefix(&format!("probe-{what}-"))
                .and_then(|n| n.parse::<usize>().ok());
            if let (Some(n), server::store::Outcome::New) = (probe, outcome)
                && let Some(at) = crate::logs::rfc3339_us(&parsed.ts)
                && n < PROBES
            {
                last_stored_us[n] = last_stored_us[n].max(at);
                stored[n] += 1;
            }
        }
    }
    let mut took: Vec<u64> = (0..PROBES)
        .filter(|&n| stored[n] == NAMES.len())
        .map(|n| (last_stored_us[n] - sent_us[n]).max(0) as u64)
        .collect();
    anyhow::ensure!(!took.is_empty(), "no probe reached every server");
    took.sort_unstable();
    let at = |q: f64| took[((took.len() - 1) as f64 * q).round() as usize];
    Ok((at(0.5), at(0.99)))
}
