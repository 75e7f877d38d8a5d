//! The README as a reader uses it: its contents list names every section,
//! in order, and its install steps, read as a shell script, work pasted top
//! to bottom. Each folder a step writes into was created by an
//! earlier step (by `mkdir` or by the tmpfiles file installed and applied
//! before), files land there through `install -m MODE` (a `cp` over an
//! existing file keeps its old mode), the user exists before tmpfiles names
//! its group, and the folder is checked before the service starts.

use std::collections::BTreeSet;

use crate::util::repo;

/// The commands of the first `sh` block under `## Install` in README.md,
/// comments and blank lines dropped.
fn install_steps() -> Vec<String> {
    let readme = std::fs::read_to_string(repo("README.md")).expect("README.md");
    let section = readme
        .split("\n## Install\n")
        .nth(1)
        .expect("an Install section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a sh block");
    block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or_default().trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The folders `systemd-tmpfiles --create` makes from our tmpfiles file
/// (its `d` lines), with the mode of each `z` line by path.
fn tmpfiles() -> (BTreeSet<String>, Vec<(String, String)>) {
    let text = std::fs::read_to_string(repo("systemd/acsync.tmpfiles")).expect("tmpfiles");
    let mut dirs = BTreeSet::new();
    let mut modes = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["d", path, ..] => {
                dirs.insert((*path).to_string());
            }
            ["z", path, mode, ..] => modes.push(((*path).to_string(), (*mode).to_string())),
            _ => {}
        }
    }
    (dirs, modes)
}

/// The last argument of a command that writes a file: its destination.
fn destination(step: &str) -> Option<&str> {
    let writes = step.contains("install ") || step.contains("cp ");
    writes.then(|| step.split_whitespace().last()).flatten()
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

#[test]
fn the_install_steps_work_pasted_top_to_bottom() {
    let steps = install_steps();
    assert!(steps.len() > 5, "{steps:?}");
    let (tmpfiles_dirs, tmpfiles_modes) = tmpfiles();
    let system_dirs = [
        "/usr/bin",
        "/usr/lib/sysusers.d",
        "/usr/lib/tmpfiles.d",
        "/etc/systemd/system",
    ];
    let mut made: BTreeSet<String> = system_dirs.iter().map(|d| d.to_string()).collect();
    let mut tmpfiles_installed = false;
    let mut users = false;
    let mut checked = false;
    for step in &steps {
        if step.contains("systemd-sysusers") {
            users = true;
        }
        if step.contains("systemd-tmpfiles --create") {
            assert!(
                tmpfiles_installed,
                "tmpfiles applied before its file is installed: {step}"
            );
            assert!(
                users,
                "tmpfiles names group acsync before sysusers made it: {step}"
            );
            made.extend(tmpfiles_dirs.iter().cloned());
        }
        if let Some(dir) = step.split("mkdir -p ").nth(1) {
            made.insert(
                dir.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        if let Some(dest) = destination(step).filter(|d| d.starts_with('/')) {
            assert!(!step.contains("cp "), "copied without a mode: {step}");
            assert!(step.contains("install -m "), "no mode set: {step}");
            assert!(
                made.contains(parent(dest)),
                "{} not created before: {step}",
                parent(dest)
            );
            if dest.ends_with("tmpfiles.d/acsync.conf") {
                tmpfiles_installed = true;
            }
            // A file tmpfiles gives a mode gets the same mode here.
            for (path, mode) in &tmpfiles_modes {
                if dest == path {
                    assert!(
                        step.contains(&format!("-m {mode} ")),
                        "{path} wants {mode}: {step}"
                    );
                    assert!(
                        step.contains("-g acsync"),
                        "{path} wants group acsync: {step}"
                    );
                }
            }
        }
        if step.contains("acsync check") {
            checked = true;
        }
        if step.contains("systemctl enable") {
            assert!(checked, "the service starts before the folder is checked");
        }
    }
    assert!(
        steps
            .iter()
            .any(|s| destination(s) == Some("/etc/acsync/acsync.toml")),
        "acsync.toml is installed: {steps:?}"
    );
}

/// The `## ` headings of README.md, outside code blocks.
fn headings(readme: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if let Some(title) = line.strip_prefix("## ").filter(|_| !fenced) {
            out.push(title.to_string());
        }
    }
    out
}

#[test]
fn the_contents_list_every_section_in_order() {
    let readme = std::fs::read_to_string(repo("README.md")).expect("README.md");
    let listed: Vec<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("- ["))
        .take_while(|l| l.contains("](#"))
        .filter_map(|l| l.split("](#").next())
        .map(str::to_string)
        .collect();
    assert_eq!(listed, headings(&readme));
    let why = listed
        .iter()
        .position(|t| t.starts_with("Why is this contact"));
    let install = listed.iter().position(|t| t == "Install");
    assert!(
        why < install,
        "the question users ask first comes before packaging"
    );
}

#[test]
fn the_alert_table_lists_every_alert_rule() {
    let readme = std::fs::read_to_string(repo("README.md")).expect("README.md");
    let rules = std::fs::read_to_string(repo("contrib/prometheus/acsync-rules.yml"))
        .expect("acsync-rules.yml");
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(alerts.len() > 3, "{alerts:?}");
    for alert in alerts {
        assert!(
            readme.contains(&format!("| `{alert}` |")),
            "README's alert table lacks {alert}"
        );
    }
}
