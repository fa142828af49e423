//! The certificates of a simulated herd, made from the scenario's seed (same seed, same
//! bytes): the herd's CA and one identity per server, which the hosts' servers present on
//! their links; and a foreign CA with its own certificates, for impostors that hold none of
//! the herd's.

use std::collections::BTreeMap;
use std::sync::Arc;

use server::certs::{Identity, herd, key_seed};
use server::links::tls::TlsSetup;

/// One simulated herd's certificates.
#[derive(Debug)]
pub struct SimCerts {
    seed: u64,
    herd: BTreeMap<String, Identity>,
    foreign: BTreeMap<String, Identity>,
}

impl SimCerts {
    /// The certificates of every server in `names`, for the run with `seed`.
    pub fn new(seed: u64, names: &[String]) -> Arc<SimCerts> {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let make = |label: &'static str| {
            let (_, identities) = herd(&names, |name| key_seed(seed, label, name))
                .unwrap_or_else(|e| panic!("the simulated herd's certificates: {e}"));
            names
                .iter()
                .map(|n| n.to_string())
                .zip(identities)
                .collect::<BTreeMap<_, _>>()
        };
        Arc::new(SimCerts {
            seed,
            herd: make("simulated herd"),
            foreign: make("another herd"),
        })
    }

    /// Server `name`'s herd identity.
    pub fn identity(&self, name: &str) -> Option<&Identity> {
        self.herd.get(name)
    }

    /// An identity for `name` signed by another CA than the herd's.
    pub fn foreign(&self, name: &str) -> Option<&Identity> {
        self.foreign.get(name)
    }

    /// Writes the herd's CA and each server's certificate and key into `dir`, as
    /// `server certs` lays them out (`ca.pem`, `<name>.pem`, `<name>.key`), for real mode.
    pub fn write(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, identity) in &self.herd {
            std::fs::write(dir.join(format!("{name}.pem")), identity.cert_pem())?;
            std::fs::write(dir.join(format!("{name}.key")), identity.key_pem())?;
            std::fs::write(dir.join("ca.pem"), identity.ca_pem())?;
        }
        Ok(())
    }

    /// What the server on host `name` is handed: its herd identity and the seeded provider.
    pub fn setup(&self, name: &str, server_seed: u64) -> Option<TlsSetup> {
        self.with_identity(self.identity(name)?, name, server_seed)
    }

    /// `identity` with a provider seeded for `name` (an attacker's connections are as
    /// deterministic as a server's).
    pub fn with_identity(&self, identity: &Identity, name: &str, seed: u64) -> Option<TlsSetup> {
        Some(TlsSetup {
            identity: identity.clone(),
            provider: server::tls_provider::seeded(seed ^ self.seed, name),
        })
    }
}

/// The clock an attacker's TLS checks certificate dates with: a fixed instant (the herd's
/// certificates hold from 1970 to 9999, so any instant would do).
struct AttackerClock;

impl server::net::Clock for AttackerClock {
    fn now_nanos(&self) -> i128 {
        1_700_000_000_000_000_000
    }
}

/// TLS for an attacker's (or a hostile client's) connections, presenting `setup`'s identity.
pub fn attacker_tls(setup: &TlsSetup) -> std::io::Result<server::links::tls::LinkTls> {
    server::links::tls::LinkTls::new(setup, Arc::new(AttackerClock))
        .map_err(|e| std::io::Error::other(e.to_string()))
}
