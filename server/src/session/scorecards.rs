//! A session's scorecards: read, saved and submitted while it is live and after its end, until
//! `sessions.scorecard_window_seconds` past it. What is checked is `scorecards`'; what is
//! written goes through `journal` (a live session's card is told to its interviewers, a
//! submitted one is recorded as `scorecard.submitted`).

use chrono::{DateTime, Utc};

use super::registry::SessionRegistry;
use super::{Session, SessionError, SessionId};
use crate::auth::Role;
use crate::scorecards::{AuthorId, Rubric, Scorecard, ScorecardError, ScorecardInput, MAX_AUTHORS};

/// A session's rubric and the scorecards written against it.
#[derive(Debug, Clone)]
pub struct Scorecards {
    pub rubric: Rubric,
    /// Oldest first.
    pub scorecards: Vec<Scorecard>,
}

impl SessionRegistry {
    /// The rubric and scorecards of a live or ended session.
    pub async fn scorecards(&self, id: &SessionId) -> Result<Scorecards, SessionError> {
        let store = &self.shared.ctx.store;
        if self.get(id).is_none() {
            let record = store.get_session(id).await?.ok_or(SessionError::NotFound)?;
            if record.erased_at.is_some() {
                return Err(SessionError::Erased);
            }
        }
        Ok(Scorecards {
            rubric: store.rubric(id).await?.unwrap_or_else(Rubric::standard),
            scorecards: store.scorecards(id).await?,
        })
    }

    /// Saves `author`'s scorecard of session `id` (a draft, or submitted when `submit`),
    /// checked against the session's rubric: while the session is live, or until the
    /// scorecard window after its end closes. Without a display name, the card keeps the one
    /// it had (else "Interviewer").
    pub async fn save_scorecard(
        &self,
        id: &SessionId,
        (author, name): (AuthorId, Option<String>),
        content: ScorecardInput,
        submit: bool,
    ) -> Result<Scorecard, SessionError> {
        let live = self.get(id);
        if live.is_none() {
            self.scorecards_open(id).await?;
        }
        let Scorecards { rubric, scorecards } = self.scorecards(id).await?;
        content.check(&rubric, submit)?;
        let previous = scorecards.iter().find(|c| c.author_id == author);
        if previous.is_none() && scorecards.len() >= MAX_AUTHORS {
            return Err(ScorecardError::Invalid(format!(
                "a session takes scorecards from at most {MAX_AUTHORS} authors"
            ))
            .into());
        }
        let name = name
            .or_else(|| previous.map(|p| p.author_name.clone()))
            .unwrap_or_else(|| Role::Interviewer.label().into());
        let card = Scorecard::write(previous, (author, name), content, submit, Utc::now())?;
        let written = match &live {
            Some(session) => session.store_scorecard(&card).await?,
            None => self.shared.ctx.store_ended_scorecard(id, &card).await?,
        };
        if !written {
            return Err(ScorecardError::Submitted.into());
        }
        Ok(card)
    }

    /// Whether a session that is not live here still takes scorecards: ended less than the
    /// window ago (its end is its `session.ended` in the trail).
    async fn scorecards_open(&self, id: &SessionId) -> Result<(), SessionError> {
        let ctx = &self.shared.ctx;
        let record = ctx
            .store
            .get_session(id)
            .await?
            .ok_or(SessionError::NotFound)?;
        if record.erased_at.is_some() {
            return Err(SessionError::Erased);
        }
        if !record.status.is_ended() {
            // Live on another replica: the edge relays requests there, so this is a race
            // with a takeover; the caller tries again.
            return Err(SessionError::Capacity(
                "the session moved to another server; try again".into(),
            ));
        }
        ctx.audit.settled().await;
        let ended_at: DateTime<Utc> = ctx
            .store
            .events(id)
            .await?
            .iter()
            .rev()
            .find(|e| e.kind == "session.ended")
            .map_or(record.last_activity_at, |e| e.at);
        let window = ctx.config.sessions.scorecard_window_seconds;
        let closes = ended_at + chrono::Duration::seconds(window as i64);
        if Utc::now() > closes {
            return Err(ScorecardError::Closed(closes).into());
        }
        Ok(())
    }
}

impl Session {
    /// The display name of participant `id`, while connected.
    pub fn participant_name(&self, id: u64) -> Option<String> {
        self.state().participants.get(&id).map(|p| p.name.clone())
    }
}
