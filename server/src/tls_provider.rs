//! A rustls crypto provider whose every random choice comes from a seed, for the simulation:
//! same seed, same handshake bytes. The binary never uses it (it passes ring's stock provider,
//! which draws from the OS).
//!
//! It is ring's default provider with two parts replaced, wiring well-kept crates rather than
//! writing any cryptography: `secure_random` (hello randoms, session ids) is a ChaCha20 stream
//! seeded from the seed and the server's name, and the key exchange is X25519 from
//! `x25519-dalek`, its ephemeral secret drawn from that same stream (ring's own key exchange
//! takes only the system's randomness). Signatures need no randomness: the herd's keys are
//! Ed25519, which signs deterministically.

use std::fmt;
use std::sync::{Arc, Mutex};

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret,
    SupportedKxGroup,
};
use rustls::{Error, NamedGroup, PeerMisbehaved};
use sha2::{Digest, Sha256};

/// The seeded stream of one server's TLS randomness.
#[derive(Clone)]
struct SeededRandom(Arc<Mutex<ChaCha20Rng>>);

impl SeededRandom {
    fn new(seed: u64, name: &str) -> SeededRandom {
        let mut hash = Sha256::new();
        hash.update(b"herd link tls randomness|");
        hash.update(seed.to_le_bytes());
        hash.update(name.as_bytes());
        let key: [u8; 32] = hash.finalize().into();
        SeededRandom(Arc::new(Mutex::new(ChaCha20Rng::from_seed(key))))
    }

    fn bytes<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        self.fill_bytes(&mut out);
        out
    }

    fn fill_bytes(&self, buf: &mut [u8]) {
        // A poisoned lock only means another handshake panicked; the stream itself is whole.
        let mut rng = self.0.lock().unwrap_or_else(|e| e.into_inner());
        rng.fill_bytes(buf);
    }
}

impl fmt::Debug for SeededRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeededRandom")
    }
}

impl SecureRandom for SeededRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        self.fill_bytes(buf);
        Ok(())
    }
}

/// X25519 with its ephemeral secrets drawn from the seeded stream.
#[derive(Debug)]
struct SeededX25519(SeededRandom);

impl SupportedKxGroup for SeededX25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let secret = x25519_dalek::StaticSecret::from(self.0.bytes::<32>());
        let public = x25519_dalek::PublicKey::from(&secret);
        Ok(Box::new(X25519Exchange { secret, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// One X25519 exchange in progress.
struct X25519Exchange {
    secret: x25519_dalek::StaticSecret,
    public: x25519_dalek::PublicKey,
}

impl ActiveKeyExchange for X25519Exchange {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, Error> {
        let peer: [u8; 32] = peer_pub_key
            .try_into()
            .map_err(|_| Error::from(PeerMisbehaved::InvalidKeyShare))?;
        let shared = self
            .secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        // A low-order point from the peer makes the secret all zeros: refused, as ring does.
        if !shared.was_contributory() {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        self.public.as_bytes()
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// The seeded provider of server `name` for a run with `seed`. Its two parts live as long as
/// the process (rustls takes them by `'static` reference): a few dozen bytes per server start.
pub fn seeded(seed: u64, name: &str) -> Arc<CryptoProvider> {
    let random = SeededRandom::new(seed, name);
    let kx: &'static SeededX25519 = Box::leak(Box::new(SeededX25519(random.clone())));
    let secure_random: &'static SeededRandom = Box::leak(Box::new(random));
    Arc::new(CryptoProvider {
        kx_groups: vec![kx],
        secure_random,
        ..rustls::crypto::ring::default_provider()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_name_give_the_same_stream_and_others_differ() {
        let a = SeededRandom::new(7, "Bona").bytes::<32>();
        assert_eq!(a, SeededRandom::new(7, "Bona").bytes::<32>());
        assert_ne!(a, SeededRandom::new(8, "Bona").bytes::<32>());
        assert_ne!(a, SeededRandom::new(7, "Clark").bytes::<32>());
    }

    #[test]
    fn two_seeded_exchanges_agree_and_a_low_order_point_is_refused() {
        let (a, b) = (
            SeededX25519(SeededRandom::new(1, "A")),
            SeededX25519(SeededRandom::new(1, "B")),
        );
        let (x, y) = (a.start().expect("start"), b.start().expect("start"));
        let y_pub = y.pub_key().to_vec();
        let from_b = y.complete(x.pub_key()).expect("complete");
        let from_a = x.complete(&y_pub).expect("complete");
        assert_eq!(from_a.secret_bytes(), from_b.secret_bytes());
        let z = a.start().expect("start");
        assert!(z.complete(&[0u8; 32]).is_err());
        assert!(a.start().expect("start").complete(&[1u8; 7]).is_err());
    }
}
