//! Switching a session's language mid-session: the environment changes, its container with it
//! (a warm one from the pool when there is one), and the document: the one left is kept for a
//! switch back, the one arrived at is the language's own (kept, the question's starter, or the
//! template). The document changes by an ordinary update from the server, so everyone sees it
//! live and replay has it; the audit trail marks the switch.

use std::sync::Arc;

use serde_json::value::RawValue;

use super::registry::SessionRegistry;
use super::slot::{Claim, SlotGuard};
use super::{EditError, Session, SessionError, SessionEvent, Status};
use crate::auth::Role;
use crate::environments::Environment;

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
        session.check_open(by)?;
        let (ctx, containers) = (&self.shared.ctx, &self.shared.containers);
        let env = ctx
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
        // A switch replaces the container: refused while the engine is away (a container
        // could be neither made nor removed), and it counts as a run for the quotas.
        ctx.engine_up()?;
        self.shared.quotas.check_run(session.id)?;
        let _lifecycle = session.lifecycle.lock().await;
        let Some((slot, arrived)) = claim(session, &env, name, starter)? else {
            return Ok(());
        };
        // First what can fail (the document), so that a refused switch changes nothing (the
        // guard frees the slot).
        let left = self.replace_document(session, &arrived).await?;
        let (old_container, old_runner, documents, ended) = {
            let mut state = session.state();
            // Changes nothing a participant sees: a switch is not `executing`.
            let _ = slot.release_locked(&mut state);
            let from = std::mem::replace(&mut state.environment, env.clone());
            state.documents.remove(name);
            state.documents.insert(from.name.clone(), left);
            session.publish_locked(SessionEvent::Environment {
                environment: super::events::EnvironmentInfo::of(&env),
                by,
                from: from.name.clone(),
            });
            let (container, runner) = (state.container.take(), state.runner.take());
            let ended = state.status().is_ended();
            if !ended {
                session.set_status_locked(&mut state, Status::Creating);
            }
            (container, runner, state.documents.clone(), ended)
        };
        // The old container goes; the new one comes from the pool or is made.
        // (A runner is only ever set with its container.)
        if let Some(container) = old_container {
            containers.discard(container, old_runner).await;
        }
        session.store_environment(name, &documents).await;
        if !ended {
            session.persist_state(Status::Creating, None).await;
            containers.spawn_ensure(session.clone());
        }
        Ok(())
    }

    /// Replaces the whole document with `text` by one update of the server's; answers the
    /// text it replaced. Retried when a participant's edit landed first.
    pub(super) async fn replace_document(
        &self,
        session: &Arc<Session>,
        text: &str,
    ) -> Result<String, SessionError> {
        let limit = self.shared.ctx.config.limits.code_limit_bytes;
        // With the files, as a run counts them: a switch never makes the session unrunnable.
        let size = text.len()
            + super::files::files_bytes(&session.state().files)
            + super::collab::DOCUMENT_NAME_BYTES;
        if size > limit {
            return Err(SessionError::Files(super::files::FilesError::TooLarge {
                size,
                limit,
            }));
        }
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

/// Takes the run slot for a switch of `session` to `env` (named `name`) and answers the
/// document the switch arrives at: the one kept from before, else the question's `starter`,
/// else the environment's template. `None` when the session is there already.
fn claim(
    session: &Arc<Session>,
    env: &Environment,
    name: &str,
    starter: Option<String>,
) -> Result<Option<(SlotGuard, String)>, SessionError> {
    let mut state = session.state();
    // The slot first: a switch during a run is refused, whatever it switches to.
    let taken = state.slot.try_take(Claim::Switch)?;
    let refused = if state.environment.name == name {
        Some(Ok(None))
    } else if state.file_docs.contains_key(&env.settings.filename) {
        Some(Err(SessionError::InvalidArgument(format!(
            "the workspace has a file named {}, which would be the {name} document",
            env.settings.filename
        ))))
    } else {
        None
    };
    if let Some(answer) = refused {
        state.slot.release(taken);
        return answer;
    }
    let arrived = state
        .documents
        .get(name)
        .cloned()
        .or(starter)
        .unwrap_or_else(|| env.template());
    drop(state);
    Ok(Some((SlotGuard::new(session.clone(), taken), arrived)))
}
