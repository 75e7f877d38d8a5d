//! `acsync explain NAME EMAIL`: parses the arguments, asks the library
//! (`crate::explain`) and prints its answer, in sentences or as JSON. Shows
//! the full address (it runs on the host; status files and logs stay
//! masked). A person waits for it: when the account's host cannot be
//! reached at all it answers from the state at once and suggests
//! `--offline`, instead of the minute and a half a run spends retrying (see
//! docs/commands.md, explain).

mod render;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::{load_one, runtime};
use crate::run::{Runner, RunnerPaths};
use crate::segment::normalize_email;

pub fn run(
    config_dir: &Path,
    name: &str,
    email: &str,
    json: bool,
    offline: bool,
) -> anyhow::Result<ExitCode> {
    let (folder, export) = match load_one(config_dir, name) {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    super::logging::init(folder.settings.daemon.log_format, "warn");
    let email = normalize_email(email);
    let paths = RunnerPaths::new(config_dir, &folder.settings.daemon);
    let rt = runtime()?;
    let runner = Runner::new(paths);
    let unreachable = match offline {
        true => None,
        false => rt.block_on(unreachable(&export.connection.base_url)),
    };
    let offline = offline || unreachable.is_some();
    let answer = rt.block_on(crate::explain::explain(&runner, &export, &email, offline));
    let (x, live_error) = match answer {
        Ok(v) => v,
        Err(e) => {
            eprintln!("acsync explain: {}: {e}", export.id);
            return Ok(ExitCode::from(1));
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&x)?);
    } else {
        for line in render::text(&x, &export.schedule.tz) {
            println!("{line}");
        }
    }
    if let Some(e) = unreachable.or(live_error) {
        eprintln!(
            "acsync explain: {}: cannot read ActiveCampaign: {e}; the answer above is from the state alone (`--offline` gives it without trying)",
            export.id
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// How long explain waits for the account's host to take a connection.
const CONNECT_WAIT: Duration = Duration::from_secs(5);

/// Why the host of `base_url` takes no connection (refused, unknown, no
/// answer within [`CONNECT_WAIT`]), or `None` when it does or when a proxy
/// stands between (the client, not this probe, knows how to reach it).
/// One TCP connection, no request: nothing is spent of the account's budget.
async fn unreachable(base_url: &reqwest::Url) -> Option<String> {
    let proxied = [
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    // An IPv6 literal comes bracketed, as a URL writes it.
    let host = base_url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = base_url.port_or_known_default()?;
    if proxied {
        return None;
    }
    let connect = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(CONNECT_WAIT, connect).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(format!("cannot connect to {host}:{port}: {e}")),
        Err(_) => Some(format!(
            "{host}:{port} took no connection within {} s",
            CONNECT_WAIT.as_secs()
        )),
    }
}
