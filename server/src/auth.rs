//! Credentials: the API key and per-session tokens. Tokens are 256 random bits, handed out
//! once, stored only as SHA-256 hashes and compared in constant time.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a credential lets its holder do in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Edits, runs, types stdin.
    Candidate,
    /// Everything a candidate can, plus ending the session (and notes, replay).
    Interviewer,
    /// Read-only: sees everything, changes nothing.
    Observer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Candidate, Role::Interviewer, Role::Observer];

    /// The role with this name ([`Role::as_str`] backwards).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Candidate => "candidate",
            Role::Interviewer => "interviewer",
            Role::Observer => "observer",
        }
    }

    /// The name of someone who gave none, as people read it.
    pub fn label(self) -> &'static str {
        match self {
            Role::Candidate => "Candidate",
            Role::Interviewer => "Interviewer",
            Role::Observer => "Observer",
        }
    }

    /// May this role change the document or run code?
    pub fn can_write(self) -> bool {
        !matches!(self, Role::Observer)
    }
}

/// A fresh token: 32 random bytes, hex-encoded.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What is stored in place of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares a presented token with a stored hash in constant time.
pub fn token_matches(token: &str, stored_hash: &str) -> bool {
    let presented = hash_token(token);
    presented.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// Compares a presented API key with the configured one in constant time (over their hashes,
/// so the length of the key leaks nothing either).
pub fn api_key_matches(presented: &str, configured: &str) -> bool {
    !configured.is_empty() && token_matches(presented, &hash_token(configured))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_distinct_and_match_only_their_hash() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(token_matches(&a, &hash_token(&a)));
        assert!(!token_matches(&b, &hash_token(&a)));
        assert!(!token_matches("", &hash_token(&a)));
    }

    #[test]
    fn api_key_needs_a_configured_key() {
        assert!(api_key_matches("k", "k"));
        assert!(!api_key_matches("k", "other"));
        assert!(!api_key_matches("", ""));
    }
}
