//! REST against one server: [`Api`], the error-shape checks every boundary test goes
//! through, and [`Session`], a created session's id and tokens.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::DEFAULT_WAIT;

/// REST calls against one server's `/api/v1`.
pub struct Api<'a> {
    pub http: &'a reqwest::Client,
    pub base: String,
}

impl Api<'_> {
    /// The URL of `path` under `/api/v1`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn with_auth(req: reqwest::RequestBuilder, bearer: Option<&str>) -> reqwest::RequestBuilder {
        match bearer {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    pub async fn put_json(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        Self::with_auth(self.http.put(self.url(path)), bearer)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {path}: {e}"))
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> reqwest::Response {
        Self::with_auth(self.http.get(self.url(path)), bearer)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> reqwest::Response {
        Self::with_auth(self.http.post(self.url(path)), bearer)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub async fn put(&self, path: &str, bearer: Option<&str>, body: &Value) -> reqwest::Response {
        Self::with_auth(self.http.put(self.url(path)), bearer)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {path}: {e}"))
    }

    /// A POST whose body is sent as is, with `Content-Type: application/json`.
    pub async fn post_raw(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &str,
    ) -> reqwest::Response {
        Self::with_auth(self.http.post(self.url(path)), bearer)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub async fn delete(&self, path: &str, bearer: Option<&str>) -> reqwest::Response {
        Self::with_auth(self.http.delete(self.url(path)), bearer)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DELETE {path}: {e}"))
    }

    /// `POST /sessions` without credentials (open mode); expects 201.
    pub async fn create_session(&self, body: Value) -> Value {
        self.create_session_as(None, body).await
    }

    pub async fn create_session_as(&self, bearer: Option<&str>, body: Value) -> Value {
        let resp = self.post("/sessions", bearer, &body).await;
        expect_json(resp, 201).await
    }

    /// `GET /sessions/{id}`; expects 200.
    pub async fn get_session(&self, id: &str, bearer: &str) -> Value {
        expect_json(
            self.get(&format!("/sessions/{id}"), Some(bearer)).await,
            200,
        )
        .await
    }

    /// Polls `GET /sessions/{id}` until its status is `status` (a new session is `creating`
    /// until its container runs); returns that answer.
    pub async fn wait_status(&self, id: &str, bearer: &str, status: &str) -> Value {
        let deadline = Instant::now() + DEFAULT_WAIT;
        loop {
            let got = self.get_session(id, bearer).await;
            if got["status"] == status {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "session {id} is not {status} after {DEFAULT_WAIT:?}: {got}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET /sessions/{id}/history` with the interviewer's token; expects 200.
    pub async fn history(&self, session: &Session) -> Value {
        let path = format!("/sessions/{}/history", session.id);
        expect_json(self.get(&path, Some(&session.interviewer)).await, 200).await
    }

    /// `POST /sessions/{id}/execute`; expects 200.
    pub async fn execute(&self, id: &str, bearer: &str, body: Value) -> Value {
        let resp = self
            .post(&format!("/sessions/{id}/execute"), Some(bearer), &body)
            .await;
        let result = expect_json(resp, 200).await;
        check_execute_shape(&result);
        result
    }
}

/// Asserts the status and returns the JSON body.
pub async fn expect_json(resp: reqwest::Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let url = resp.url().path().to_string();
    let text = resp.text().await.expect("response body");
    assert_eq!(
        got, status,
        "{url}: expected HTTP {status}, got {got}: {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: body is not JSON ({e}): {text}"))
}

/// The REST error boundary: HTTP `status` and `{"error":{"code","message","hint"}}` with `code`.
pub async fn check_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    let got = resp.status().as_u16();
    let url = resp.url().path().to_string();
    let text = resp.text().await.expect("response body");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{url}: error body is not JSON ({e}): {text:?} (HTTP {got})"));
    check_error_body(&body, code, &format!("{url} (HTTP {got})"));
    assert_eq!(
        got, status,
        "{url}: expected HTTP {status} {code}, got {got}: {body}"
    );
    body
}

/// The error triple, shared by REST bodies and the upgrade refusal.
pub fn check_error_body(body: &Value, code: &str, what: &str) {
    let error = &body["error"];
    assert_eq!(
        error["code"], code,
        "{what}: expected error code {code}: {body}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: error.message must be a non-empty string: {body}"
    );
    assert!(
        error["hint"].is_string(),
        "{what}: error.hint must be a string: {body}"
    );
}

/// The shape `POST /sessions/{id}/execute` answers.
pub fn check_execute_shape(result: &Value) {
    for key in ["session_id", "run_id", "stdout", "stderr", "status"] {
        assert!(
            result[key].is_string(),
            "execute: {key} must be a string: {result}"
        );
    }
    assert!(
        result["exit_code"].is_i64() || result["exit_code"].is_null(),
        "execute: exit_code must be an integer or null: {result}"
    );
    assert!(
        result["execution_time"].is_f64(),
        "execute: execution_time must be a float: {result}"
    );
    assert!(
        result["truncated"].is_boolean(),
        "execute: truncated must be a boolean: {result}"
    );
}

/// A created session: its id and tokens.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub candidate: String,
    pub interviewer: String,
}

impl From<Value> for Session {
    fn from(created: Value) -> Self {
        let field = |key: &str| {
            created[key]
                .as_str()
                .unwrap_or_else(|| panic!("POST /sessions: {key} missing: {created}"))
                .to_string()
        };
        Self {
            id: field("session_id"),
            candidate: field("candidate_token"),
            interviewer: field("interviewer_token"),
        }
    }
}

impl Session {
    pub fn path(&self) -> String {
        format!("/sessions/{}", self.id)
    }
}

/// A raw HTTP answer read off `stream` until its error body ends (`…}}`), the stream closes,
/// or `DEFAULT_WAIT` passes: for requests sent byte by byte, which reqwest cannot make.
pub async fn raw_error_answer(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(DEFAULT_WAIT, async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.ends_with(b"}}") {
                break;
            }
        }
    })
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}
