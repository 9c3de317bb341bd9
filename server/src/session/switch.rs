//! Switching a session's language mid-session: the environment changes, its container with it
//! (a warm one from the pool when there is one), and the document: the one left is kept for a
//! switch back, the one arrived at is the language's own (kept, the question's starter, or the
//! template). The document changes by an ordinary update from the server, so everyone sees it
//! live and replay has it; the audit trail marks the switch.

use std::sync::Arc;

use serde_json::value::RawValue;

use super::registry::SessionRegistry;
use super::{EditError, Session, SessionError, SessionEvent, Status};
use crate::auth::Role;

/// The `client_id` of the server's own updates.
pub const SERVER_CLIENT: &str = "livecode";

impl SessionRegistry {
    /// Switches `session` to environment `name` (a no-op when it is already there).
    pub async fn switch_environment(
        &self,
        session: &Arc<Session>,
        name: &str,
        by: Role,
    ) -> Result<(), SessionError> {
        let shared = &self.shared;
        let env = shared
            .environments
            .get(name)
            .cloned()
            .ok_or_else(|| SessionError::UnknownEnvironment(name.to_string()))?;
        if !env.is_ready() {
            return Err(SessionError::ImageNotReady(name.to_string()));
        }
        let starter = self
            .question(&session.id)
            .await?
            .and_then(|q| q.starters.get(name).cloned());
        let _lifecycle = session.lifecycle.lock().await;
        let (from, old_container, old_runner) = {
            let mut state = session.state();
            if state.status.is_ended() {
                return Err(SessionError::Ended);
            }
            if state.run.is_some() || state.testing.is_some() {
                return Err(SessionError::RunInProgress);
            }
            if state.environment.name == name {
                return Ok(());
            }
            let from = std::mem::replace(&mut state.environment, env.clone());
            session.emit_locked(SessionEvent::Environment {
                environment: super::events::EnvironmentInfo::of(&env),
                by,
            });
            state.status = Status::Creating;
            session.emit_locked(SessionEvent::Status(Status::Creating));
            (from, state.container.take(), state.runner.take())
        };
        // The document: the language's own, replacing the one left (which is kept).
        let arrived = {
            let mut state = session.state();
            state
                .documents
                .remove(name)
                .or(starter)
                .unwrap_or_else(|| env.template())
        };
        let left = self.replace_document(session, &arrived).await?;
        let documents = {
            let mut state = session.state();
            state.documents.insert(from.name.clone(), left);
            state.documents.clone()
        };
        shared
            .store
            .set_environment(&session.id, name, &documents)
            .await?;
        // The old container goes; the new one comes from the pool or is made.
        if let Some(runner) = old_runner {
            runner.close().await;
        }
        if let Some(container) = old_container {
            let sandbox = shared.containers.sandbox.clone();
            shared.containers.tasks.spawn(async move {
                if let Err(err) = sandbox.remove(&container).await {
                    tracing::warn!(%container, %err, "could not remove the container a switch left");
                }
            });
        }
        shared
            .containers
            .persist_state(session, Status::Creating, None)
            .await;
        shared.containers.spawn_ensure(session.clone());
        shared.containers.events.record(
            session.id,
            "session.environment",
            serde_json::json!({"from": from.name, "to": name, "by": by.as_str()}),
        );
        Ok(())
    }

    /// Replaces the whole document with `text` by one update of the server's; answers the
    /// text it replaced. Retried when a participant's edit landed first.
    async fn replace_document(
        &self,
        session: &Arc<Session>,
        text: &str,
    ) -> Result<String, SessionError> {
        for _ in 0..5 {
            let (old, version) = session.document();
            if old == text {
                return Ok(old);
            }
            let length = old.encode_utf16().count();
            let mut change = vec![serde_json::json!(length)];
            change.extend(text.split('\n').map(|l| serde_json::json!(l)));
            let changes = serde_json::to_string(&serde_json::json!([change]))
                .expect("a change set serializes");
            let raw = RawValue::from_string(changes).expect("valid JSON");
            match self
                .push_updates(session, version, vec![(SERVER_CLIENT.to_string(), raw)])
                .await
            {
                Ok(()) => return Ok(old),
                Err(EditError::Stale { .. }) => continue,
                Err(EditError::Ended) => return Err(SessionError::Ended),
                Err(err) => return Err(SessionError::InvalidArgument(err.to_string())),
            }
        }
        Err(SessionError::InvalidArgument(
            "the document kept changing; try the switch again".into(),
        ))
    }
}
