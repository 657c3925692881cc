//! `bff sessions list|revoke|count`: the operator session API from the
//! command line. Talks to the admin listener with `BFF_ADMIN_TOKEN` and
//! prints its JSON answer.

use std::process::ExitCode;
use std::time::Duration;

use bff::config::parse::read_secret_file;
use bff::config::{Args, SessionsAction};
use http::{Method, Request, header};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Runs one action; exit 0 on a 2xx answer.
pub(crate) async fn run(args: &Args, admin: &str, action: &SessionsAction) -> ExitCode {
    let token = match (&args.admin_token, &args.admin_token_file) {
        (Some(token), _) => token.clone(),
        (None, Some(path)) => match read_secret_file(path) {
            Ok(token) => token,
            Err(err) => return fail(&err),
        },
        (None, None) => return fail("set BFF_ADMIN_TOKEN or BFF_ADMIN_TOKEN_FILE"),
    };
    let Some((method, path)) = route(action) else {
        return fail("give --session or --sub");
    };
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{admin}{path}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(http_body_util::Empty::<bytes::Bytes>::new());
    let Ok(request) = request else {
        return fail("invalid admin address");
    };
    // The admin listener is plain HTTP on a local or cluster address.
    let client = Client::builder(TokioExecutor::new()).build_http();
    let exchange = async {
        let response = client.request(request).await.ok()?;
        let status = response.status();
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, body))
    };
    match tokio::time::timeout(Duration::from_secs(10), exchange).await {
        Ok(Some((status, body))) => {
            #[expect(clippy::print_stdout, reason = "the CLI prints the admin API's answer")]
            {
                println!("{}", String::from_utf8_lossy(&body));
            }
            if status.is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        _ => fail("the admin listener did not answer"),
    }
}

/// The admin API call for `action`.
fn route(action: &SessionsAction) -> Option<(Method, String)> {
    Some(match action {
        SessionsAction::List { sub } => {
            (Method::GET, format!("/admin/sessions?sub={}", encode(sub)))
        }
        SessionsAction::Revoke {
            session: Some(hash),
            ..
        } => (Method::DELETE, format!("/admin/sessions/{}", encode(hash))),
        SessionsAction::Revoke { sub: Some(sub), .. } => (
            Method::DELETE,
            format!("/admin/sessions?sub={}", encode(sub)),
        ),
        SessionsAction::Revoke { .. } => return None,
        SessionsAction::Count => (Method::GET, "/admin/sessions/count".to_owned()),
    })
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn fail(message: &str) -> ExitCode {
    eprintln!("bff sessions: {message}");
    ExitCode::FAILURE
}
