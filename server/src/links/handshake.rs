//! The link handshake's cryptography: a fresh challenge per connection and the HMAC-SHA256
//! proof that the dialler knows the herd's secret. Nothing here does I/O.
//!
//! The proof covers both names, the dialler's epoch and the challenge, so a recorded
//! handshake is worth nothing on another connection (the challenge differs), towards another
//! server, or for another life of the dialler.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

type HmacSha256 = Hmac<Sha256>;

/// The proof sent when the dialler has no secret (accepted only by servers without one).
pub const NO_PROOF: &str = "-";

/// A challenge for connection number `conn` of a server: unpredictable to anyone who does not
/// know the server's seed (drawn from the OS by the binary), and never the same twice in one
/// life because `conn` only grows.
pub fn challenge(seed: u64, epoch: u64, server: &str, conn: u64) -> String {
    let mut mac = HmacSha256::new_from_slice(&[seed.to_le_bytes(), epoch.to_le_bytes()].concat())
        .expect("HMAC takes keys of any length");
    mac.update(b"herd link challenge|");
    mac.update(server.as_bytes());
    mac.update(b"|");
    mac.update(&conn.to_le_bytes());
    hex(&mac.finalize().into_bytes()[..16])
}

fn mac_for(secret: &Secret, dialler: &str, accepter: &str, epoch: u64, nonce: &str) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.bytes()).expect("HMAC takes keys of any length");
    for part in [
        "herd link proof v1",
        dialler,
        accepter,
        &epoch.to_string(),
        nonce,
    ] {
        mac.update(part.as_bytes());
        mac.update(b"|");
    }
    mac
}

/// The dialler's proof for `nonce`, or [`NO_PROOF`] without a secret.
pub fn proof(
    secret: Option<&Secret>,
    dialler: &str,
    accepter: &str,
    epoch: u64,
    nonce: &str,
) -> String {
    match secret {
        Some(secret) => hex(&mac_for(secret, dialler, accepter, epoch, nonce)
            .finalize()
            .into_bytes()),
        None => NO_PROOF.to_string(),
    }
}

/// Does `proof` show knowledge of `secret` for this handshake? Compared in constant time.
/// Without a secret every proof is taken: links are unauthenticated, as said at start.
pub fn verify(
    secret: Option<&Secret>,
    dialler: &str,
    accepter: &str,
    epoch: u64,
    nonce: &str,
    proof: &str,
) -> bool {
    let Some(secret) = secret else {
        return true;
    };
    let Some(bytes) = unhex(proof) else {
        return false;
    };
    mac_for(secret, dialler, accepter, epoch, nonce)
        .verify_slice(&bytes)
        .is_ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> Secret {
        Secret::new(text.as_bytes()).expect("non-empty")
    }

    #[test]
    fn the_right_proof_is_taken_and_any_change_refuses_it() {
        let s = secret("herd secret");
        let nonce = challenge(1, 2, "Bona", 3);
        let p = proof(Some(&s), "Clark", "Bona", 9, &nonce);
        assert!(verify(Some(&s), "Clark", "Bona", 9, &nonce, &p));
        assert!(!verify(
            Some(&secret("other")),
            "Clark",
            "Bona",
            9,
            &nonce,
            &p
        ));
        assert!(!verify(Some(&s), "Jaquez", "Bona", 9, &nonce, &p));
        assert!(!verify(Some(&s), "Clark", "Bailey", 9, &nonce, &p));
        assert!(!verify(Some(&s), "Clark", "Bona", 10, &nonce, &p));
        let replayed_on = challenge(1, 2, "Bona", 4);
        assert!(!verify(Some(&s), "Clark", "Bona", 9, &replayed_on, &p));
        assert!(!verify(Some(&s), "Clark", "Bona", 9, &nonce, NO_PROOF));
        assert!(!verify(Some(&s), "Clark", "Bona", 9, &nonce, "zz"));
    }

    #[test]
    fn challenges_differ_per_connection_seed_and_life() {
        let a = challenge(1, 2, "Bona", 3);
        assert_ne!(a, challenge(1, 2, "Bona", 4));
        assert_ne!(a, challenge(5, 2, "Bona", 3));
        assert_ne!(a, challenge(1, 6, "Bona", 3));
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn without_a_secret_links_are_unauthenticated() {
        assert_eq!(proof(None, "Clark", "Bona", 1, "00"), NO_PROOF);
        assert!(verify(None, "Clark", "Bona", 1, "00", NO_PROOF));
    }
}
