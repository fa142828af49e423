//! The `server` binary: parse flags, load the herd, set up logs, start servers, stop on Ctrl-C.
//! Everything else lives in the library.

mod disk;
mod logfile;
mod logrotate;
mod logwriter;
mod real;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use server::config::Herd;
use server::net::Env;
use server::places::{PlacesApi, PlacesClient, PlacesSettings};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// A proxy-herd server: IAMAT location reports flooded across the herd, WHATSAT answered from
/// Google Places. Set PLACES_API_KEY for real Places data; without it an offline place set
/// answers.
#[derive(Debug, Parser)]
#[command(name = "server", version)]
struct Cli {
    /// Servers of the herd to start in this process; none starts every server of the herd.
    names: Vec<String>,
    /// Herd file (YAML: servers, links, limits); default: the five-server herd on 127.0.0.1:10000-10004.
    #[arg(long, value_name = "FILE")]
    herd: Option<PathBuf>,
    /// Keep each server's table on disk in DIR/<name> (a durable store: an `AT` reply only
    /// after its record is synced; a restart recovers the table). Overrides the herd file's
    /// `data_dir`. Default: none, tables live in memory.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Directory for one log file per server.
    #[arg(long, value_name = "DIR", default_value = "logs")]
    log_dir: PathBuf,
    /// Which Places API to call when PLACES_API_KEY is set.
    #[arg(long, value_name = "legacy|new", default_value = "legacy")]
    places_api: PlacesApi,
    /// What goes into the log files: `info` (the default) writes every event of the trace;
    /// `warn` only warnings and errors (cheapest, but the log is no longer the trace: real mode
    /// and the load benchmark need `info`); `debug` adds every retry of a failed dial.
    #[arg(long, value_name = "LEVEL", env = "RUST_LOG", default_value = "info")]
    log_level: tracing_subscriber::filter::LevelFilter,
    /// Base URL of the Places API (default: Google's host for the chosen API).
    #[arg(long, value_name = "URL")]
    places_base: Option<String>,
    /// Run the servers' clocks this far from the system clock (signed: `-3s`, `+250ms`), to
    /// test a herd whose clocks disagree, as the simulation's `skew` step does.
    #[arg(long, value_name = "OFFSET", default_value = "0s", allow_hyphen_values = true, value_parser = parse_offset)]
    clock_offset: i128,
    /// Count nothing for metrics (a scrape shows zeros): only to measure what counting costs.
    #[arg(long)]
    no_metrics: bool,
}

/// A signed duration (`-3s`, `+250ms`, `2s`) in nanoseconds.
/// `server certs`: writes a herd's CA and one certificate and key per server, for herds whose
/// servers run in separate processes (name the directory in the herd file's `tls_dir`).
#[derive(Debug, Parser)]
#[command(name = "server certs")]
struct CertsCli {
    /// Herd file whose servers get certificates; default: the five-server default herd.
    #[arg(long, value_name = "FILE")]
    herd: Option<PathBuf>,
    /// Directory to write `ca.pem`, and `<name>.pem` and `<name>.key` per server into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Writes the certificates `cli` asks for; the keys come from the OS's random source.
fn certs(cli: CertsCli) -> anyhow::Result<()> {
    let herd = match &cli.herd {
        Some(path) => Herd::load(path)?,
        None => Herd::default_herd(),
    };
    let names: Vec<&str> = herd.servers.iter().map(|s| s.name.as_str()).collect();
    let mut failed = None;
    server::certs::write_herd(&cli.out, &names, |_| {
        let mut bytes = [0u8; 32];
        if let Err(e) = getrandom::fill(&mut bytes) {
            failed = Some(e);
        }
        bytes
    })?;
    if let Some(e) = failed {
        anyhow::bail!("no OS random source for the herd's keys: {e}");
    }
    println!(
        "wrote ca.pem and a certificate and key for each of {} into {}; keep the .key files private",
        names.join(", "),
        cli.out.display()
    );
    Ok(())
}

fn parse_offset(text: &str) -> Result<i128, String> {
    let (sign, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    server::config::parse_duration(magnitude).map(|d| sign * d.as_nanos() as i128)
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("certs") {
        let cli = CertsCli::parse_from(std::env::args().skip(1));
        return match certs(cli) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("server certs: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether warnings on stderr are coloured: only on a terminal, and not when `NO_COLOR` is set
/// to anything but the empty string (no-color.org), so a redirected stderr holds plain text.
fn colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, naming which: both stop every server gracefully.
/// The handlers are installed when this is called, not when it is first awaited, so a signal
/// that comes while the servers start is still a graceful stop (and not the default: death).
fn stop_signal() -> impl std::future::Future<Output = &'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => tokio::select! {
                    _ = interrupt.recv() => "Ctrl-C",
                    _ = terminate.recv() => "SIGTERM",
                },
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                    "Ctrl-C"
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let (mut herd, herd_source) = match &cli.herd {
        Some(path) => (Herd::load(path)?, path.display().to_string()),
        None => (Herd::default_herd(), "built-in default herd".to_string()),
    };
    let names: Vec<String> = if cli.names.is_empty() {
        herd.servers.iter().map(|s| s.name.clone()).collect()
    } else {
        for name in &cli.names {
            if herd.server(name).is_none() {
                let known: Vec<&str> = herd.servers.iter().map(|s| s.name.as_str()).collect();
                anyhow::bail!(
                    "{name} is not a server of the herd ({herd_source}); servers are: {}",
                    known.join(", ")
                );
            }
        }
        cli.names.clone()
    };

    let (mut tls, tls_source) = match &herd.tls_dir {
        Some(dir) => {
            let mut setups = std::collections::BTreeMap::new();
            for name in &names {
                let identity = server::certs::Identity::load(dir, name)?;
                setups.insert(name.clone(), real::os_setup(identity));
            }
            (setups, format!("certificates from {}", dir.display()))
        }
        None if names.len() == herd.servers.len() => {
            // Every server runs in this process: a fresh CA and certificates, in memory.
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let setups = real::process_certs(&names).map_err(|e| anyhow::anyhow!(e))?;
            (
                setups,
                "certificates made in memory for this process".to_string(),
            )
        }
        None => Default::default(),
    };
    let rotation = logrotate::Rotation {
        file_bytes_max: herd.limits.log_file_bytes_max as u64,
        files_max: herd.limits.log_files_max,
    };
    let (files, _guards) = logfile::PerServerFiles::open(&cli.log_dir, &names, rotation)
        .map_err(|e| anyhow::anyhow!("cannot open log files in {}: {e}", cli.log_dir.display()))?;
    let no_color = std::env::var_os("NO_COLOR");
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            no_color.as_deref(),
        ))
        .with_filter(tracing_subscriber::filter::LevelFilter::WARN);
    tracing_subscriber::registry()
        .with(files.with_filter(cli.log_level))
        .with(stderr)
        .init();

    let settings = PlacesSettings {
        api: cli.places_api,
        base_url: cli.places_base.clone(),
        timeout: herd.limits.places_timeout,
        response_bytes_max: herd.limits.places_response_bytes_max,
    };
    let places = match std::env::var("PLACES_API_KEY") {
        Ok(key) if !key.trim().is_empty() => PlacesClient::https(settings, key.trim().to_string()),
        _ => PlacesClient::offline(),
    };

    print_summary(&herd, &herd_source, &names, &places, &cli);
    if tls.is_empty() {
        println!(
            "links: UNAUTHENTICATED: no tls_dir in the herd file; any client that names a neighbour can feed this server"
        );
    } else {
        println!("links: TLS 1.3, mutually authenticated, {tls_source}");
    }
    if places.is_offline() {
        tracing::warn!(
            "PLACES_API_KEY is not set: WHATSAT answers come from the built-in offline place set, not Google"
        );
    }

    let data_dir = cli.data_dir.clone().or_else(|| herd.data_dir.clone());
    match &data_dir {
        Some(dir) => println!(
            "durable store: {} (one directory per server)",
            dir.display()
        ),
        None => println!("durable store: none (tables in memory; --data-dir keeps them)"),
    }
    herd.metrics_off = cli.no_metrics;
    let stopped = stop_signal();
    let herd = Arc::new(herd);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let seed = real::seed_from_os();
    let mut servers = tokio::task::JoinSet::new();
    for (i, name) in names.iter().enumerate() {
        let env = Env {
            net: Arc::new(real::TokioNet),
            clock: Arc::new(real::OffsetClock {
                offset_nanos: cli.clock_offset,
            }),
            places: places.clone(),
            seed: seed.wrapping_add(i as u64),
            disk: data_dir.as_ref().map(|dir| {
                Arc::new(disk::RealDisk::new(dir.join(name))) as Arc<dyn server::net::Disk>
            }),
            // No fault point ever fires in the binary.
            buggify: server::buggify::Buggify::off(),
            canary: None,
            tls: tls.remove(name),
        };
        let mut stop = stop_rx.clone();
        let (herd, name) = (herd.clone(), name.clone());
        servers.spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|&s| s).await;
            };
            server::run(herd, &name, env, shutdown).await
        });
    }

    let mut failure = None;
    tokio::select! {
        signal = stopped => println!("stopping ({signal})"),
        Some(done) = servers.join_next() => {
            failure = match done {
                Ok(Err(e)) => Some(anyhow::anyhow!(e)),
                Ok(Ok(())) => None,
                Err(e) => Some(anyhow::anyhow!("a server task failed: {e}")),
            };
        }
    }
    stop_tx.send_replace(true);
    while let Some(done) = servers.join_next().await {
        if let (Ok(Err(e)), None) = (done, &failure) {
            failure = Some(anyhow::anyhow!(e));
        }
    }
    failure.map_or(Ok(()), Err)
}

fn print_summary(herd: &Herd, source: &str, names: &[String], places: &PlacesClient, cli: &Cli) {
    println!(
        "herd: {source} ({} servers, {} links)",
        herd.servers.len(),
        herd.links.len()
    );
    println!("places: {}", places.describe());
    for name in names {
        let Some(spec) = herd.server(name) else {
            continue;
        };
        let neighbours: Vec<String> = herd
            .neighbours(name)
            .iter()
            .map(|n| n.to_string())
            .collect();
        println!(
            "  {:<10} {}:{:<6} log {}  neighbours: {}",
            name,
            spec.host,
            spec.port,
            cli.log_dir.join(format!("{name}.log")).display(),
            if neighbours.is_empty() {
                "none".to_string()
            } else {
                neighbours.join(", ")
            }
        );
    }
    println!("Ctrl-C stops.");
}

#[cfg(test)]
mod docs_commands;

#[cfg(test)]
mod tests {
    use super::colour;
    use std::ffi::OsStr;

    #[test]
    fn warnings_are_coloured_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
        assert!(!colour(false, Some(OsStr::new(""))));
    }
}
