//! TLS on links: mutual authentication to the herd's CA, and each end's name checked against
//! the herd file. The dialler checks the dialled certificate against the neighbour's name it
//! dialled; the accepter checks the dialler's client certificate against the name its `PEER`
//! line claims. TLS 1.3 only, no session resumption or tickets: every link proves itself anew.
//!
//! The crypto provider is handed in ([`crate::tls_provider`] in the simulation, ring's stock
//! provider in the binary) and the clock that checks certificate dates is the seam's.

use std::io;
use std::sync::Arc;

use rustls::client::{Resumption, verify_server_name};
use rustls::pki_types::{ServerName, UnixTime};
use rustls::server::{NoServerSessionStorage, ParsedCertificate, WebPkiClientVerifier};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::net::{BoxStream, Clock};

pub use crate::certs::TlsSetup;

/// The seam's clock, as rustls asks for the time.
#[derive(Clone)]
struct SeamTime(Arc<dyn Clock>);

impl std::fmt::Debug for SeamTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeamTime")
    }
}

impl rustls::time_provider::TimeProvider for SeamTime {
    fn current_time(&self) -> Option<UnixTime> {
        let secs = u64::try_from(self.0.now_nanos() / 1_000_000_000).ok()?;
        Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            secs,
        )))
    }
}

/// Both sides' TLS configurations for one server's links.
#[derive(Clone)]
pub struct LinkTls {
    client: tokio_rustls::TlsConnector,
    server: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for LinkTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkTls")
    }
}

fn tls_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl LinkTls {
    /// The configurations for `setup`, checking certificate dates with `clock`.
    pub fn new(setup: &TlsSetup, clock: Arc<dyn Clock>) -> Result<LinkTls, rustls::Error> {
        let time = Arc::new(SeamTime(clock));
        let mut roots = RootCertStore::empty();
        roots.add(setup.identity.ca.clone())?;
        let roots = Arc::new(roots);
        let chain = vec![setup.identity.cert.clone()];
        let provider = setup.provider.clone();
        let mut client = ClientConfig::builder_with_details(provider.clone(), time.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots.clone())
            .with_client_auth_cert(chain.clone(), setup.identity.key.clone_key().into())?;
        client.resumption = Resumption::disabled();
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let mut server = ServerConfig::builder_with_details(provider, time)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, setup.identity.key.clone_key().into())?;
        server.send_tls13_tickets = 0;
        server.session_storage = Arc::new(NoServerSessionStorage {});
        Ok(LinkTls {
            client: tokio_rustls::TlsConnector::from(Arc::new(client)),
            server: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
        })
    }

    /// TLS as the dialler to neighbour `peer`: its certificate must chain to the herd CA and
    /// be for `peer`.
    pub async fn connect(&self, peer: &str, stream: BoxStream) -> io::Result<BoxStream> {
        let name = ServerName::try_from(peer.to_string()).map_err(tls_error)?;
        let tls = self.client.connect(name, stream).await?;
        Ok(Box::new(tls))
    }

    /// TLS as the accepter of a link from `claimed` (the name its `PEER` line gave): its client
    /// certificate must chain to the herd CA and be for `claimed`.
    pub async fn accept(&self, claimed: &str, stream: BoxStream) -> io::Result<BoxStream> {
        let tls = self.server.accept(stream).await?;
        let (_, connection) = tls.get_ref();
        let cert = connection
            .peer_certificates()
            .and_then(|chain| chain.first())
            .ok_or_else(|| tls_error("no client certificate"))?;
        let parsed = ParsedCertificate::try_from(cert).map_err(tls_error)?;
        let name = ServerName::try_from(claimed.to_string()).map_err(tls_error)?;
        verify_server_name(&parsed, &name)
            .map_err(|e| tls_error(format!("certificate is not for {claimed}: {e}")))?;
        Ok(Box::new(tls))
    }
}

/// A whole herd's TLS from one `seed`: a CA, each server's certificate and a provider seeded
/// for it, so the same seed gives the same handshake bytes (simulations and tests; the binary
/// makes its keys from the OS's randomness).
pub fn seeded_herd(
    names: &[&str],
    seed: u64,
) -> Result<std::collections::BTreeMap<String, TlsSetup>, crate::certs::CertError> {
    let (_, identities) =
        crate::certs::herd(names, |name| crate::certs::key_seed(seed, "herd", name))?;
    Ok(names
        .iter()
        .zip(identities)
        .map(|(name, identity)| {
            let provider = crate::tls_provider::seeded(seed, name);
            (name.to_string(), TlsSetup { identity, provider })
        })
        .collect())
}

/// Did TLS end because the other end sent an alert (it refused us), rather than because
/// this end refused it?
pub fn alert_received(error: &io::Error) -> bool {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|e| matches!(e, rustls::Error::AlertReceived(_)))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::certs::{HerdCa, Identity, herd, key_seed};

    fn setup(identity: &Identity, name: &str) -> LinkTls {
        let setup = TlsSetup {
            identity: identity.clone(),
            provider: crate::tls_provider::seeded(5, name),
        };
        LinkTls::new(&setup, Arc::new(crate::net::FixedClock)).expect("config")
    }

    /// Runs a dialler (`from`, dialling `to`) against an accepter that takes `claimed`;
    /// returns each side's result and the bytes the dialler sent.
    async fn link(
        from: &LinkTls,
        to_name: &str,
        to: &LinkTls,
        claimed: &str,
    ) -> (io::Result<()>, io::Result<()>) {
        let (a, b) = tokio::io::duplex(1 << 16);
        let dial = async {
            let mut s = from.connect(to_name, Box::new(a)).await?;
            s.write_all(b"AUTH 0\n").await?;
            s.flush().await?;
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await?;
            Ok(())
        };
        let accept = async {
            let mut s = to.accept(claimed, Box::new(b)).await?;
            let mut buf = [0u8; 7];
            s.read_exact(&mut buf).await?;
            s.write_all(b"LINK").await?;
            s.flush().await?;
            Ok(())
        };
        tokio::join!(dial, accept)
    }

    #[tokio::test]
    async fn herd_members_link_and_every_impostor_is_refused() {
        let (_, ids) = herd(&["Bona", "Clark", "Jaquez"], |n| key_seed(1, "t", n)).expect("herd");
        let (bona, clark, jaquez) = (
            setup(&ids[0], "Bona"),
            setup(&ids[1], "Clark"),
            setup(&ids[2], "Jaquez"),
        );
        let (d, a) = link(&clark, "Bona", &bona, "Clark").await;
        assert!(d.is_ok() && a.is_ok(), "{d:?} {a:?}");
        // Jaquez's valid herd certificate, claiming to be Clark.
        let (_, a) = link(&jaquez, "Bona", &bona, "Clark").await;
        assert!(a.expect_err("posing").to_string().contains("not for Clark"));
        // Bona dials Clark, but Jaquez answers with its own certificate.
        let (d, _) = link(&bona, "Clark", &jaquez, "Bona").await;
        assert!(d.is_err());
        // A certificate from another CA, both ways.
        let mut other = HerdCa::new(&key_seed(9, "other", "ca"), "other CA").expect("ca");
        let forged = setup(
            &other.issue("Clark", &key_seed(9, "o", "Clark")).expect("c"),
            "X",
        );
        let (_, a) = link(&forged, "Bona", &bona, "Clark").await;
        assert!(a.is_err());
        let (d, _) = link(&bona, "Clark", &forged, "Bona").await;
        assert!(d.is_err());
    }
}
