//! Tests of [`super`]: each rule on a real temporary folder, and the name
//! limits checked against the real status and lock writers.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;

use super::*;

fn tree() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let exports = dir.path().join("exports");
    std::fs::create_dir_all(exports.join("emea")).expect("mkdir");
    std::fs::write(exports.join("vip.toml"), "x").expect("write");
    std::fs::write(exports.join("emea/news.toml"), "x").expect("write");
    (dir, exports)
}

fn paths(d: &Discovery, exports: &Path) -> Vec<String> {
    d.found
        .iter()
        .map(|f| {
            let rel = f.path.strip_prefix(exports).unwrap_or(&f.path);
            format!(
                "{}{}",
                rel.display(),
                if f.problem.is_some() { " !" } else { "" }
            )
        })
        .collect()
}

#[test]
fn a_folder_link_loop_is_one_error_and_no_copies() {
    let (_d, exports) = tree();
    symlink(".", exports.join("dirloop")).expect("link");
    symlink("..", exports.join("emea/up")).expect("link");
    let d = discover(&exports);
    assert_eq!(paths(&d, &exports), ["emea/news.toml", "vip.toml"]);
    assert_eq!(d.errors.len(), 2, "{:?}", d.errors);
    assert!(d.errors[0].file.ends_with("dirloop"));
    assert!(d.errors[0].message.starts_with("symbolic link loop"));
    assert!(d.errors[1].file.ends_with("emea/up"));
}

#[test]
fn a_second_path_to_a_folder_is_an_error_whichever_comes_first() {
    let (_d, exports) = tree();
    // `a-link` sorts before `emea`: the link is blamed all the same.
    symlink("emea", exports.join("a-link")).expect("link");
    let d = discover(&exports);
    assert_eq!(paths(&d, &exports), ["emea/news.toml", "vip.toml"]);
    assert_eq!(d.errors.len(), 1, "{:?}", d.errors);
    assert!(d.errors[0].file.ends_with("a-link"));
    assert!(
        d.errors[0].message.contains("read already"),
        "{}",
        d.errors[0]
    );
}

#[test]
fn two_paths_to_one_file_are_both_errors_naming_both() {
    let (_d, exports) = tree();
    symlink("vip.toml", exports.join("alias.toml")).expect("link");
    std::fs::hard_link(exports.join("emea/news.toml"), exports.join("hard.toml")).expect("link");
    let d = discover(&exports);
    assert_eq!(
        paths(&d, &exports),
        [
            "alias.toml !",
            "emea/news.toml !",
            "hard.toml !",
            "vip.toml !"
        ]
    );
    let p = d.found[0].problem.as_deref().unwrap_or_default();
    assert!(
        p.contains("alias.toml and ") && p.contains("vip.toml are the same file"),
        "{p}"
    );
}

#[test]
fn unusable_toml_entries_are_errors_not_skipped() {
    let (_d, exports) = tree();
    symlink("loop.toml", exports.join("loop.toml")).expect("link");
    symlink("nowhere", exports.join("dangling.toml")).expect("link");
    std::fs::create_dir(exports.join("folder.toml")).expect("mkdir");
    let latin1 = OsStr::from_bytes(b"caf\xe9.toml");
    std::fs::write(exports.join(latin1), "x").expect("write");
    let d = discover(&exports);
    let problem = |name: &[u8]| {
        d.found
            .iter()
            .find(|f| f.path.file_name().map(OsStrExt::as_bytes) == Some(name))
            .and_then(|f| f.problem.clone())
            .unwrap_or_default()
    };
    assert!(problem(b"loop.toml").starts_with("symbolic link loop"));
    assert!(problem(b"dangling.toml").starts_with("broken symbolic link"));
    assert!(problem(b"caf\xe9.toml").contains("not valid UTF-8"));
    // A folder named `x.toml` is a folder: walked, not an export.
    assert!(problem(b"folder.toml").is_empty());
}

#[test]
fn misnamed_exports_draw_a_warning_and_status_files_do_not() {
    let (_d, exports) = tree();
    for name in [
        "a.TOML",
        "b.tml",
        "c.yaml",
        "d.yml",
        "e.json",
        "vip.status.json",
        "emea/news.status.json",
        ".hidden.yaml",
        "notes.txt",
        "vip.toml~",
    ] {
        std::fs::write(exports.join(name), "x").expect("write");
    }
    let d = discover(&exports);
    let warned: Vec<String> = d
        .warnings
        .iter()
        .map(|w| {
            w.file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(warned, ["a.TOML", "b.tml", "c.yaml", "d.yml", "e.json"]);
    assert!(
        d.warnings[0].message.contains("rename it to a.toml"),
        "{}",
        d.warnings[0]
    );
    assert_eq!(paths(&d, &exports), ["emea/news.toml", "vip.toml"]);
}

#[test]
fn name_limits_match_what_the_status_and_lock_writers_can_create() {
    let dir = tempfile::tempdir().expect("tmp");
    let longest_status = "s".repeat(NAME_MAX - STATUS_TMP_EXTRA);
    assert_eq!(name_problem(&longest_status), None);
    let status = crate::status::StatusFile::new(&longest_status, "x.toml", chrono::Utc::now());
    crate::status::write_atomic(
        &dir.path().join(format!("{longest_status}.status.json")),
        &status,
    )
    .expect("the longest accepted name gets a status file");
    let too_long = format!("{longest_status}s");
    assert!(name_problem(&too_long).is_some_and(|p| p.contains("status file")));
    let r =
        crate::status::write_atomic(&dir.path().join(format!("{too_long}.status.json")), &status);
    assert!(
        r.is_err(),
        "one byte more must be refused, or the limit is wrong"
    );

    // Lock names: each CJK character is 3 bytes, each written `%XX`.
    let state = dir.path().join("state");
    // `x/` is written `x%2F`: 50 of them and 50 letters make 250 + `.lock`.
    let longest_lock = format!("{}{}", "x/".repeat(50), "y".repeat(50));
    assert_eq!(name_problem(&longest_lock), None);
    crate::state::lock_export(&state, &longest_lock).expect("longest accepted lock name");
    let one_more = format!("{longest_lock}y");
    assert!(name_problem(&one_more).is_some());
    assert!(crate::state::lock_export(&state, &one_more).is_err());
    let cjk = "漢".repeat(30);
    assert!(name_problem(&cjk).is_some_and(|p| p.contains("lock file name would be 275 bytes")));
    assert!(crate::state::lock_export(&state, &cjk).is_err());
}
