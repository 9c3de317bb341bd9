//! Credentials: the API key and per-session tokens. Tokens are 256 random bits, handed out
//! once, stored only as SHA-256 hashes and compared in constant time.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::LanguageSwitch;

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
}

/// Who may do what: every permission is decided here, once, and REST and the socket both ask.
/// The table in this module's tests lays it out, role by capability.
impl Role {
    /// Edits the document and the workspace's files.
    pub fn may_edit(self) -> bool {
        self != Role::Observer
    }

    /// Runs code (a run, its stdin and kill, a test run).
    pub fn may_run(self) -> bool {
        self != Role::Observer
    }

    /// Moves the session's end (`extend`).
    pub fn may_extend(self) -> bool {
        self != Role::Observer
    }

    /// Switches the session's language: interviewers always, others who may run code when
    /// `sessions.language_switch` is `everyone`.
    pub fn may_switch(self, setting: LanguageSwitch) -> bool {
        self == Role::Interviewer || (setting == LanguageSwitch::Everyone && self.may_run())
    }

    /// Ends the session.
    pub fn may_end(self) -> bool {
        self == Role::Interviewer
    }

    /// Reads and writes the private notes, and hears when they change.
    pub fn keeps_notes(self) -> bool {
        self == Role::Interviewer
    }

    /// Reads, writes and hears of the interviewers' scorecards. Not observers: a scorecard is
    /// an interviewer's judgement, and observers (shadowing interviewers, say) should form
    /// their own before they read anyone's.
    pub fn keeps_scorecards(self) -> bool {
        self == Role::Interviewer
    }

    /// Reads the session's history (replay) and its events.
    pub fn reads_history(self) -> bool {
        self == Role::Interviewer
    }

    /// Hears when a participant's page gains or loses focus.
    pub fn sees_focus(self) -> bool {
        self == Role::Interviewer
    }

    /// Whether this role's own focus changes are told (an observer's is nobody's business).
    pub fn focus_is_told(self) -> bool {
        self != Role::Observer
    }

    /// Sees hidden test cases in full (others get them counted).
    pub fn sees_hidden_cases(self) -> bool {
        self == Role::Interviewer
    }

    /// Moves the session to another question of its template (`set_question`): interviewers;
    /// in a take-home (`take_home`), its candidate too, who works through it alone.
    pub fn may_set_question(self, take_home: bool) -> bool {
        self == Role::Interviewer || (take_home && self == Role::Candidate)
    }

    /// Sees the template's questions not reached yet (titles in the navigator, their texts).
    pub fn sees_unreached_questions(self) -> bool {
        self == Role::Interviewer
    }

    /// Sees which container serves the session (the operator's business).
    pub fn sees_container(self) -> bool {
        self == Role::Interviewer
    }

    /// Sees and prepares a session before its Start (the lobby): its code, files, question,
    /// runs and cursors. Others hear only that it waits, until it starts.
    pub fn sees_lobby(self) -> bool {
        self == Role::Interviewer
    }

    /// Starts an interview that waits in its lobby, and hides or shows its clock.
    pub fn may_start(self) -> bool {
        self == Role::Interviewer
    }

    /// Sees the interview's clock when the interviewer hid it (from the candidate).
    pub fn sees_hidden_clock(self) -> bool {
        self == Role::Interviewer
    }

    /// Hands a take-home in (its candidate; the API key too).
    pub fn may_submit(self) -> bool {
        self != Role::Observer
    }
}

/// What a credential grants on one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The API key (or anyone in open mode for operator-only calls).
    Operator,
    /// A token of this session.
    Token(Role),
}

impl Access {
    /// The role the caller acts as: the API key acts as an interviewer.
    pub fn role(self) -> Role {
        match self {
            Access::Operator => Role::Interviewer,
            Access::Token(role) => role,
        }
    }

    /// Erases a session's content (`DELETE …?erase=true`): the API key alone, since erasing
    /// candidates' data is the platform's decision, not an interviewer's.
    pub fn may_erase(self) -> bool {
        self == Access::Operator
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

/// The role a session's token grants, given the session's two stored hashes: the one place a
/// token becomes a role, for live and stored sessions alike.
pub fn role_for_token(token: &str, interviewer_hash: &str, candidate_hash: &str) -> Option<Role> {
    if token_matches(token, interviewer_hash) {
        Some(Role::Interviewer)
    } else if token_matches(token, candidate_hash) {
        Some(Role::Candidate)
    } else {
        None
    }
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
    fn a_sessions_token_grants_its_role_and_nothing_else_does() {
        let (interviewer, candidate) = (new_token(), new_token());
        let hashes = (hash_token(&interviewer), hash_token(&candidate));
        let role = |token: &str| role_for_token(token, &hashes.0, &hashes.1);
        assert_eq!(role(&interviewer), Some(Role::Interviewer));
        assert_eq!(role(&candidate), Some(Role::Candidate));
        assert_eq!(role(&new_token()), None);
        assert_eq!(role(""), None);
    }

    /// Each credential × each capability. A permission change is one edit in `Role`, and it
    /// shows here as one changed mark.
    #[test]
    fn the_policy_table() {
        type May = fn(Role) -> bool;
        let capabilities: [(&str, May); 17] = [
            ("edit", Role::may_edit),
            ("run", Role::may_run),
            ("extend", Role::may_extend),
            ("switch", |r| r.may_switch(LanguageSwitch::Everyone)),
            ("switch(i)", |r| r.may_switch(LanguageSwitch::Interviewers)),
            ("end", Role::may_end),
            ("notes", Role::keeps_notes),
            ("cards", Role::keeps_scorecards),
            ("history", Role::reads_history),
            ("focus", Role::sees_focus),
            ("told", Role::focus_is_told),
            ("hidden", Role::sees_hidden_cases),
            ("container", Role::sees_container),
            ("lobby", Role::sees_lobby),
            ("start", Role::may_start),
            ("clock", Role::sees_hidden_clock),
            ("submit", Role::may_submit),
        ];
        let credentials = [
            ("api key", Access::Operator),
            ("interviewer", Access::Token(Role::Interviewer)),
            ("candidate", Access::Token(Role::Candidate)),
            ("observer", Access::Token(Role::Observer)),
        ];
        let header: Vec<&str> = capabilities.iter().map(|(name, _)| *name).collect();
        let mut table = vec![format!("{:12}{}", "", header.join(" "))];
        for (who, access) in credentials {
            let marks: Vec<String> = capabilities
                .iter()
                .map(|(name, may)| {
                    let mark = if may(access.role()) { "x" } else { "." };
                    format!("{mark:>width$}", width = name.len())
                })
                .collect();
            table.push(format!("{who:12}{}", marks.join(" ")));
        }
        // "switch": with `sessions.language_switch = "everyone"`; "switch(i)": "interviewers".
        let expect = [
            "            edit run extend switch switch(i) end notes cards history focus told hidden container lobby start clock submit",
            "api key        x   x      x      x         x   x     x     x       x     x    x      x         x     x     x     x      x",
            "interviewer    x   x      x      x         x   x     x     x       x     x    x      x         x     x     x     x      x",
            "candidate      x   x      x      x         .   .     .     .       .     .    x      .         .     .     .     .      x",
            "observer       .   .      .      .         .   .     .     .       .     .    .      .         .     .     .     .      .",
        ];
        assert_eq!(table, expect, "\n{}", table.join("\n"));
    }

    #[test]
    fn api_key_needs_a_configured_key() {
        assert!(api_key_matches("k", "k"));
        assert!(!api_key_matches("k", "other"));
        assert!(!api_key_matches("", ""));
    }
}
