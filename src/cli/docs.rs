//! Documentation generated from the clap definitions, so it never disagrees
//! with `--help`: `acsync completions SHELL` (clap_complete) and `acsync man`
//! (clap_mangen, one page with a section per command). The packaged copies
//! under `packaging/` are these outputs, checked fresh by a test.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use roff::{Roff, bold, italic, roman};

use super::Cli;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    std::io::stdout().write_all(&completion_script(shell))?;
    Ok(ExitCode::SUCCESS)
}

/// The completion script for `shell`.
pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "acsync", &mut out);
    out
}

/// Prints the manual page (roff) on stdout.
pub fn man() -> anyhow::Result<ExitCode> {
    std::io::stdout().write_all(&man_page()?)?;
    Ok(ExitCode::SUCCESS)
}

/// acsync(1): clap_mangen's standard sections, then every command with its
/// arguments, exit status, environment, files and examples.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let cmd = Cli::command();
    let page = clap_mangen::Man::new(cmd.clone()).manual("acsync manual");
    let mut out = Vec::new();
    page.render_title(&mut out)?;
    page.render_name_section(&mut out)?;
    page.render_synopsis_section(&mut out)?;
    page.render_description_section(&mut out)?;
    commands_section(&cmd).to_writer(&mut out)?;
    static_sections().to_writer(&mut out)?;
    page.render_version_section(&mut out)?;
    Ok(out)
}

/// COMMANDS: each visible subcommand's usage, about and arguments.
fn commands_section(cmd: &clap::Command) -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut sub = sub.clone().bin_name(format!("acsync {}", sub.get_name()));
        let usage = sub.render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ").to_string();
        r.control("TP", []).text([bold(usage)]);
        if let Some(about) = sub.get_about() {
            r.text([roman(about.to_string())]);
        }
        r.control("RS", []);
        // `--help` is on every command: listing it each time is noise.
        let args = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && a.get_id() != "help");
        for arg in args {
            r.control("TP", []).text(arg_label(arg));
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            r.text([roman(help)]);
        }
        r.control("RE", []);
    }
    r
}

/// `--format <FORMAT>`, `[FILES]...`: how an argument is written.
fn arg_label(arg: &clap::Arg) -> Vec<roff::Inline> {
    let value = arg
        .get_value_names()
        .and_then(|v| v.first())
        .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string);
    let mut label = if arg.is_positional() {
        vec![italic(value.clone())]
    } else {
        vec![bold(format!("--{}", arg.get_long().unwrap_or_default()))]
    };
    if !arg.is_positional() && arg.get_action().takes_values() {
        label.push(roman(" "));
        label.push(italic(value));
    }
    let possible: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if !possible.is_empty() {
        label.push(roman(format!(" ({})", possible.join(", "))));
    }
    label
}

/// The sections clap cannot know: exit status, environment, files, examples.
fn static_sections() -> Roff {
    let mut r = Roff::new();
    let para = |r: &mut Roff, tag: &str, text: &str| {
        r.control("TP", []).text([bold(tag)]).text([roman(text)]);
    };
    r.control("SH", ["EXIT STATUS"]);
    para(
        &mut r,
        "0",
        "success; plan --detailed-exitcode: nothing to change",
    );
    para(
        &mut r,
        "1",
        "the run, plan or check failed (sync: outcome partial, failed or blocked)",
    );
    para(
        &mut r,
        "2",
        "bad usage; plan --detailed-exitcode: there are changes (or blocked removals)",
    );
    r.control("SH", ["ENVIRONMENT"]);
    para(
        &mut r,
        "ACSYNC_CONFIG_DIR",
        "the configuration folder when --config-dir is not given (default /etc/acsync)",
    );
    para(
        &mut r,
        "RUST_LOG",
        "log level filter, e.g. info or acsync=debug",
    );
    para(&mut r, "NO_COLOR", "set: acsync status prints no colours");
    para(
        &mut r,
        "STATE_DIRECTORY, CREDENTIALS_DIRECTORY",
        "set by systemd: the default state folder, and where api_key_credential keys are read",
    );
    r.control("SH", ["FILES"]);
    para(
        &mut r,
        "/etc/acsync/acsync.toml",
        "daemon settings and ActiveCampaign connections",
    );
    para(
        &mut r,
        "/etc/acsync/exports/**/NAME.toml",
        "one export per file; NAME is its id",
    );
    para(
        &mut r,
        "/etc/acsync/exports/**/NAME.status.json",
        "written by acsync next to each export",
    );
    para(
        &mut r,
        "/var/lib/acsync",
        "the state database (ownership, run journal) and locks",
    );
    r.control("SH", ["EXAMPLES"]);
    para(
        &mut r,
        "acsync check --config-dir config --format github",
        "validate a configuration repository in GitHub Actions",
    );
    para(
        &mut r,
        "acsync plan emea/vip --json --detailed-exitcode",
        "what a run would change, for a review bot",
    );
    para(
        &mut r,
        "acsync status --watch",
        "the status table, redrawn every 2 seconds",
    );
    r.control("SH", ["SEE ALSO"]);
    r.text([roman("systemctl(1), journalctl(1), systemd.service(5)")]);
    r
}
