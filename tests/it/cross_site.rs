//! Cross-site requests: a drive-by form is not JSON to the API, a page of another origin can
//! neither create sessions nor open sockets, and only the listed origins get CORS.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn cross_site_requests_are_refused_and_listed_origins_get_cors() {
    let server = TestServer::start(|c| {
        c.cors_origins = vec!["https://hiring.example.com".into()];
    })
    .await;
    let base = format!("http://{}/api/v1", server.addr);
    let http = &server.http;
    let post = |origin: Option<&str>, content_type: &str, body: &str| {
        let mut req = http
            .post(format!("{base}/sessions"))
            .header("content-type", content_type)
            .body(body.to_string());
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        req.send()
    };
    let body = r#"{"environment":"bash"}"#;
    // A drive-by form or text/plain fetch from any page: the body is not JSON to us.
    check_error(
        post(None, "text/plain", body).await.expect("send"),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    // JSON from a foreign page, with or without a body, and from an opaque origin.
    for (origin, content_type, body) in [
        ("https://evil.example", "application/json", body),
        ("https://evil.example", "text/plain", ""),
        ("null", "application/json", body),
    ] {
        let resp = post(Some(origin), content_type, body).await.expect("send");
        check_error(resp, 403, "FORBIDDEN_ORIGIN").await;
    }
    // The server's own page, and a listed platform.
    let own = format!("http://{}", server.addr);
    assert_eq!(
        post(Some(&own), "application/json", body)
            .await
            .expect("send")
            .status(),
        201
    );
    let listed = post(
        Some("https://hiring.example.com"),
        "application/json; charset=utf-8",
        body,
    )
    .await
    .expect("send");
    assert_eq!(listed.status(), 201);
    assert_eq!(
        listed
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().expect("ascii")),
        Some("https://hiring.example.com")
    );
    // The listed platform's preflight is answered; a foreign one gets no CORS grant.
    let preflight = |origin: &str| {
        http.request(reqwest::Method::OPTIONS, format!("{base}/sessions"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };
    let ok = preflight("https://hiring.example.com")
        .await
        .expect("preflight");
    assert!(ok.status().is_success(), "{}", ok.status());
    assert!(ok.headers().get("access-control-allow-origin").is_some());
    let foreign = preflight("https://evil.example").await.expect("preflight");
    assert!(foreign
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    // Sockets too: a foreign page cannot open one, even with a token it somehow has.
    let session = server.bash("echo hi").await;
    let url = server.ws_url(&session.id, &format!("?token={}", session.candidate));
    assert_eq!(
        refused_upgrade(&url, Some("https://evil.example")).await.0,
        403
    );
}
