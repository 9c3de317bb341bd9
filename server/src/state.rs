//! [`AppState`]: what every handler may reach. Its own module, so that `api`, `ws` and `web`
//! depend on it and `app` (which assembles their routes) depends on them, never the other way.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::config::Config;
use crate::environments::Environments;
use crate::questions::Question;
use crate::session::SessionRegistry;
use crate::store::{ListPage, Store, StoreError};
use crate::templates::Template;

/// Everything a handler may reach. Cheap to clone: every field is a handle.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub sessions: SessionRegistry,
    pub questions: Questions,
    pub environments: Arc<Environments>,
    pub tasks: TaskTracker,
    /// Serving ends: sockets close with 1012.
    pub shutdown: CancellationToken,
    /// Asks the server to stop (drain first, in a cluster); `shutdown` follows.
    pub stop: CancellationToken,
}

/// The interview questions, kept apart from any session (`/questions`). Cheap to clone: a
/// handle.
#[derive(Clone)]
pub struct Questions {
    store: Arc<dyn Store>,
}

impl Questions {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Keeps a new question.
    pub async fn create(&self, question: &Question, created_by: &str) -> Result<(), StoreError> {
        self.store.insert_question(question, created_by).await
    }

    pub async fn get(&self, id: &Uuid) -> Result<Option<Question>, StoreError> {
        self.store.get_question(id).await
    }

    /// A page of questions, newest first.
    pub async fn list(&self, page: &ListPage) -> Result<Vec<Question>, StoreError> {
        self.store.list_questions(page).await
    }

    /// Keeps a new template (`/templates`): an ordered list of these questions.
    pub async fn create_template(
        &self,
        template: &Template,
        created_by: &str,
    ) -> Result<(), StoreError> {
        self.store.insert_template(template, created_by).await
    }

    pub async fn template(&self, id: &Uuid) -> Result<Option<Template>, StoreError> {
        self.store.get_template(id).await
    }

    /// A page of templates, newest first.
    pub async fn templates(&self, page: &ListPage) -> Result<Vec<Template>, StoreError> {
        self.store.list_templates(page).await
    }
}
