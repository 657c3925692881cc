//! HTML pages rendered from the askama templates in `templates/`
//! (compiled into the binary; no external assets). Pages only ever show
//! fixed, user-facing text: askama escapes every value, and no token,
//! secret or internal detail is passed in.

use askama::Template;
use http::{Response, StatusCode};

use crate::http_util::{Body, response};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LoggedOutPage;

const HTML: &str = "text/html; charset=utf-8";

/// An error page for `status` with an escaped, user-facing `message`.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response<Body> {
    let page = ErrorPage {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("Error"),
        message,
    };
    render(status, &page)
}

/// The signed-out page (`GET /auth/logged-out`).
pub(crate) fn logged_out_page() -> Response<Body> {
    render(StatusCode::OK, &LoggedOutPage)
}

fn render(status: StatusCode, page: &impl Template) -> Response<Body> {
    match page.render() {
        Ok(html) => response(status, HTML, html),
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

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn error_page_escapes_its_message() {
        let res = error_page(StatusCode::BAD_REQUEST, "<script>alert(1)</script>");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
    }
}
