//! The herd's certificates: a CA, and for each server a certificate for its name signed by
//! that CA, made with rcgen from key seeds the caller supplies (the simulation's seed, or the
//! OS's randomness that the binary passes in), or read from a directory of PEM files.
//!
//! Keys are Ed25519 (`ed25519-dalek` turns a 32-byte seed into a PKCS#8 key; ring signs with
//! it deterministically). Validity dates and serial numbers are fixed, never the clock's: the
//! same seeds give the same bytes.

use std::path::Path;

use ed25519_dalek::pkcs8::EncodePrivateKey;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

/// Why certificates could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot make a certificate: {0}")]
    Make(String),
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
}

/// What one server presents and trusts on its links.
#[derive(Debug)]
pub struct Identity {
    /// The herd CA's certificate: the only root a link's other end may chain to.
    pub ca: CertificateDer<'static>,
    /// This server's certificate (for its name, signed by the CA).
    pub cert: CertificateDer<'static>,
    /// Its private key (PKCS#8).
    pub key: PrivatePkcs8KeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Identity {
        Identity {
            ca: self.ca.clone(),
            cert: self.cert.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// What a server is handed for TLS on its links: its identity and a crypto provider (ring's
/// stock one in the binary, [`crate::tls_provider::seeded`] in the simulation).
#[derive(Clone, Debug)]
pub struct TlsSetup {
    pub identity: Identity,
    pub provider: std::sync::Arc<rustls::crypto::CryptoProvider>,
}

/// A 32-byte key seed for `name`, derived from `seed` under `label`.
pub fn key_seed(seed: u64, label: &str, name: &str) -> [u8; 32] {
    let mut hash = Sha256::new();
    for part in [label.as_bytes(), &seed.to_le_bytes(), name.as_bytes()] {
        hash.update(part);
        hash.update(b"|");
    }
    hash.finalize().into()
}

fn key_pair(seed: &[u8; 32]) -> Result<(KeyPair, PrivatePkcs8KeyDer<'static>), CertError> {
    let der = ed25519_dalek::SigningKey::from_bytes(seed)
        .to_pkcs8_der()
        .map_err(|e| CertError::Make(e.to_string()))?;
    let bytes = der.as_bytes().to_vec();
    let pair = KeyPair::try_from(&bytes[..]).map_err(make)?;
    Ok((pair, PrivatePkcs8KeyDer::from(bytes)))
}

fn make(e: rcgen::Error) -> CertError {
    CertError::Make(e.to_string())
}

/// Fixed validity, wide enough for any simulated or real date.
fn fixed_dates(params: &mut CertificateParams) {
    params.not_before = rcgen::date_time_ymd(1970, 1, 1);
    params.not_after = rcgen::date_time_ymd(9999, 12, 31);
}

/// A herd's certificate authority.
pub struct HerdCa {
    cert: rcgen::Certificate,
    key: KeyPair,
    /// Serial numbers given so far (the CA's own is 1).
    issued: u64,
}

impl HerdCa {
    /// The CA whose key comes from `seed`; `label` names it in its certificate.
    pub fn new(seed: &[u8; 32], label: &str) -> Result<HerdCa, CertError> {
        let (key, _) = key_pair(seed)?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, label);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some(SerialNumber::from(1u64));
        fixed_dates(&mut params);
        let cert = params.self_signed(&key).map_err(make)?;
        Ok(HerdCa {
            cert,
            key,
            issued: 1,
        })
    }

    /// The certificate of server `name` (its only name), with a key from `seed`.
    pub fn issue(&mut self, name: &str, seed: &[u8; 32]) -> Result<Identity, CertError> {
        let (pair, key) = key_pair(seed)?;
        let mut params = CertificateParams::new(vec![name.to_string()]).map_err(make)?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        self.issued += 1;
        params.serial_number = Some(SerialNumber::from(self.issued));
        fixed_dates(&mut params);
        let cert = params
            .signed_by(&pair, &self.cert, &self.key)
            .map_err(make)?;
        Ok(Identity {
            ca: self.cert.der().clone(),
            cert: cert.der().clone(),
            key,
        })
    }

    /// The CA's certificate, PEM.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }
}

impl Identity {
    /// The herd CA's certificate, PEM.
    pub fn ca_pem(&self) -> String {
        pem("CERTIFICATE", &self.ca)
    }

    /// The certificate, PEM.
    pub fn cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.cert)
    }

    /// The private key, PEM.
    pub fn key_pem(&self) -> String {
        pem("PRIVATE KEY", self.key.secret_pkcs8_der())
    }

    /// Server `name`'s identity from `dir`: `ca.pem`, `<name>.pem` and `<name>.key`, as
    /// [`write_herd`] writes them.
    pub fn load(dir: &Path, name: &str) -> Result<Identity, CertError> {
        let read = |file: String| {
            let path = dir.join(file);
            let text = std::fs::read(&path).map_err(|e| CertError::Read {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            Ok::<_, CertError>((path, text))
        };
        let bad = |path: &Path, e: rustls::pki_types::pem::Error| CertError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let (path, text) = read("ca.pem".into())?;
        let ca = CertificateDer::from_pem_slice(&text).map_err(|e| bad(&path, e))?;
        let (path, text) = read(format!("{name}.pem"))?;
        let cert = CertificateDer::from_pem_slice(&text).map_err(|e| bad(&path, e))?;
        let (path, text) = read(format!("{name}.key"))?;
        let key = match PrivateKeyDer::from_pem_slice(&text).map_err(|e| bad(&path, e))? {
            PrivateKeyDer::Pkcs8(key) => key,
            _ => {
                return Err(CertError::Read {
                    path: path.display().to_string(),
                    message: "not a PKCS#8 private key".into(),
                });
            }
        };
        Ok(Identity { ca, cert, key })
    }
}

fn pem(tag: &str, der: &[u8]) -> String {
    ::pem::encode(&::pem::Pem::new(tag, der))
}

/// A CA and one identity per name, all keys from `seed_for(name)` (`"ca"` for the CA).
pub fn herd(
    names: &[&str],
    mut seed_for: impl FnMut(&str) -> [u8; 32],
) -> Result<(HerdCa, Vec<Identity>), CertError> {
    let mut ca = HerdCa::new(&seed_for("ca"), "herd CA")?;
    let identities = names
        .iter()
        .map(|name| ca.issue(name, &seed_for(name)))
        .collect::<Result<_, _>>()?;
    Ok((ca, identities))
}

/// Writes `ca.pem` and `<name>.pem`, `<name>.key` for each name into `dir` (created).
pub fn write_herd(
    dir: &Path,
    names: &[&str],
    seed_for: impl FnMut(&str) -> [u8; 32],
) -> Result<(), CertError> {
    let (ca, identities) = herd(names, seed_for)?;
    let write = |file: String, text: String| {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| CertError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    };
    std::fs::create_dir_all(dir).map_err(|e| CertError::Read {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    write("ca.pem".into(), ca.pem())?;
    for (name, identity) in names.iter().zip(&identities) {
        write(format!("{name}.pem"), identity.cert_pem())?;
        write(format!("{name}.key"), identity.key_pem())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seeds_give_the_same_bytes() {
        let seeds = |name: &str| key_seed(3, "test", name);
        let (_, a) = herd(&["Bona", "Clark"], seeds).expect("herd");
        let (_, b) = herd(&["Bona", "Clark"], seeds).expect("herd");
        assert_eq!(a[0].cert, b[0].cert);
        assert_eq!(a[1].key.secret_pkcs8_der(), b[1].key.secret_pkcs8_der());
        assert_ne!(a[0].cert, a[1].cert);
    }

    #[test]
    fn written_files_read_back_as_the_same_identity() {
        let dir = std::env::temp_dir().join(format!("herd-certs-{}", std::process::id()));
        let seeds = |name: &str| key_seed(4, "test", name);
        write_herd(&dir, &["Bona"], seeds).expect("write");
        let read = Identity::load(&dir, "Bona").expect("load");
        let (_, made) = herd(&["Bona"], seeds).expect("herd");
        assert_eq!(read.cert, made[0].cert);
        assert_eq!(read.ca, made[0].ca);
        assert_eq!(read.key.secret_pkcs8_der(), made[0].key.secret_pkcs8_der());
        let missing = Identity::load(&dir, "Clark").expect_err("no such files");
        assert!(missing.to_string().contains("Clark.pem"), "{missing}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
