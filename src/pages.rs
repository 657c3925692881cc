//! HTML pages rendered from the askama templates in `templates/`
//! (compiled into the binary; no external assets). Pages only ever show
//! fixed, user-facing text: askama escapes every value, and no token,
//! secret or internal detail is passed in.

use std::sync::LazyLock;

use askama::Template;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use sha2::{Digest as _, Sha256};

use crate::http_util::{Body, response};

/// The pages' only style sheet, inlined (no external assets) and allowed
/// by its hash alone.
pub(crate) const CSS: &str = include_str!("../templates/page.css");

/// A strict policy for bff's own pages (CSP Level 3): nothing loads,
/// runs or frames them; only the inlined style sheet applies.
static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = STANDARD.encode(Sha256::digest(CSS.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
});

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
    request_id: &'a str,
}

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LoggedOutPage;

const HTML: &str = "text/html; charset=utf-8";

/// An error page for `status` with an escaped, user-facing `message` and
/// the request id.
pub(crate) fn error_page(status: StatusCode, message: &str, request_id: &str) -> Response<Body> {
    let page = ErrorPage {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("Error"),
        message,
        request_id,
    };
    render(status, &page)
}

/// The signed-out page (`GET /auth/logged-out`).
pub(crate) fn logged_out_page() -> Response<Body> {
    render(StatusCode::OK, &LoggedOutPage)
}

fn render(status: StatusCode, page: &impl Template) -> Response<Body> {
    match page.render() {
        Ok(html) => with_page_headers(response(status, HTML, html)),
        Err(err) => {
            tracing::error!(error = %err, "template failed to render");
            response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                "internal error",
            )
        }
    }
}

/// CSP, `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`
/// and the legacy `X-Frame-Options: DENY` (OWASP Secure Headers).
fn with_page_headers(mut res: Response<Body>) -> Response<Body> {
    let headers = res.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&CSP) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn error_page_escapes_its_message() {
        let res = error_page(StatusCode::BAD_REQUEST, "<script>alert(1)</script>", "<b>");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<b>"), "request id not escaped");
    }

    #[tokio::test]
    async fn pages_carry_a_strict_policy_that_allows_exactly_their_style_sheet() {
        for res in [
            error_page(StatusCode::BAD_REQUEST, "x", "rid"),
            logged_out_page(),
        ] {
            let headers = res.headers().clone();
            let csp = headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors 'none'")
            );
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
            let body = res.into_body().collect().await.unwrap().to_bytes();
            let html = String::from_utf8(body.to_vec()).unwrap();
            let style = html
                .split("<style>")
                .nth(1)
                .unwrap()
                .split("</style>")
                .next()
                .unwrap();
            let hash = STANDARD.encode(Sha256::digest(style.as_bytes()));
            assert!(
                csp.contains(&format!("'sha256-{hash}'")),
                "{csp} does not allow the style"
            );
            assert!(!html.contains("<script"), "a page runs script");
        }
    }
}
