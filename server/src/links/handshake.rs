//! The link handshake's cryptography: a fresh challenge per connection each way, and the
//! HMAC-SHA256 proofs that both ends know the herd's secret. Nothing here does I/O.
//!
//! The dialler's proof covers both names, its epoch and the accepter's challenge; the
//! accepter's answer covers both names, its epoch and the dialler's challenge, under another
//! label, so neither proof stands in for the other. A recorded handshake is worth nothing on
//! another connection (the challenges differ), towards another server, or for another life.

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

/// What a proof is of: the dialler's, or the accepter's answer.
#[derive(Clone, Copy)]
enum Side {
    Dialler,
    Accepter,
}

fn mac_for(secret: &Secret, dialler: &str, accepter: &str, epoch: u64, nonce: &str) -> HmacSha256 {
    mac_of(Side::Dialler, secret, dialler, accepter, epoch, nonce)
}

fn mac_of(
    side: Side,
    secret: &Secret,
    dialler: &str,
    accepter: &str,
    epoch: u64,
    nonce: &str,
) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.bytes()).expect("HMAC takes keys of any length");
    let label = match side {
        Side::Dialler => "herd link proof v1",
        Side::Accepter => "herd link answer v1",
    };
    for part in [label, dialler, accepter, &epoch.to_string(), nonce] {
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

/// Bytes of the accepter's answer: the HMAC cut to its left half (128 bits), which keeps the
/// `LINKED` line short.
const ANSWER_BYTES: usize = 16;

/// The dialler's challenge for its connection number `dial` to a neighbour (`link` names the
/// pair): 16 hex digits, unpredictable without the seed, never the same twice in one life.
pub fn dialler_challenge(seed: u64, epoch: u64, link: &str, dial: u64) -> String {
    let mut full = challenge(seed, epoch, link, dial);
    full.truncate(16);
    full
}

/// The accepter's answer to the dialler's `challenge`: proof that it knows `secret` too, for
/// this link and its own life `epoch`; [`NO_PROOF`] without a secret.
pub fn answer(
    secret: Option<&Secret>,
    dialler: &str,
    accepter: &str,
    epoch: u64,
    challenge: &str,
) -> String {
    match secret {
        Some(secret) => {
            let mac = mac_of(Side::Accepter, secret, dialler, accepter, epoch, challenge);
            hex(&mac.finalize().into_bytes()[..ANSWER_BYTES])
        }
        None => NO_PROOF.to_string(),
    }
}

/// Does the accepter's `answer` show knowledge of `secret` for this link? Compared in constant
/// time. Without a secret every answer is taken, as every proof is.
pub fn verify_answer(
    secret: Option<&Secret>,
    dialler: &str,
    accepter: &str,
    epoch: u64,
    challenge: &str,
    answer: &str,
) -> bool {
    let Some(secret) = secret else {
        return true;
    };
    let Some(bytes) = unhex(answer).filter(|b| b.len() == ANSWER_BYTES) else {
        return false;
    };
    mac_of(Side::Accepter, secret, dialler, accepter, epoch, challenge)
        .verify_truncated_left(&bytes)
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
    fn the_accepter_answers_the_dialler_and_no_proof_stands_in_for_another() {
        let s = secret("herd secret");
        let challenge = dialler_challenge(1, 2, "Clark>Bona", 3);
        assert_eq!(challenge.len(), 16);
        let a = answer(Some(&s), "Clark", "Bona", 4, &challenge);
        assert_eq!(a.len(), 32);
        assert!(!verify_answer(
            Some(&s),
            "Clark",
            "Bona",
            4,
            &challenge,
            &a[..30]
        ));
        assert!(verify_answer(Some(&s), "Clark", "Bona", 4, &challenge, &a));
        assert!(!verify_answer(
            Some(&secret("x")),
            "Clark",
            "Bona",
            4,
            &challenge,
            &a
        ));
        assert!(!verify_answer(Some(&s), "Clark", "Bona", 5, &challenge, &a));
        assert!(!verify_answer(Some(&s), "Bona", "Clark", 4, &challenge, &a));
        let other = dialler_challenge(1, 2, "Clark>Bona", 4);
        assert!(!verify_answer(Some(&s), "Clark", "Bona", 4, &other, &a));
        assert!(!verify_answer(
            Some(&s),
            "Clark",
            "Bona",
            4,
            &challenge,
            NO_PROOF
        ));
        // The dialler's proof for the same values is not an answer, nor the other way round.
        let p = proof(Some(&s), "Clark", "Bona", 4, &challenge);
        assert!(!verify_answer(
            Some(&s),
            "Clark",
            "Bona",
            4,
            &challenge,
            &p[..32]
        ));
        assert!(!verify(Some(&s), "Clark", "Bona", 4, &challenge, &a));
        assert_eq!(answer(None, "Clark", "Bona", 4, &challenge), NO_PROOF);
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
