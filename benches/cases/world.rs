//! A benchmark world: a simulator (real HTTP on loopback, owned by the
//! calling process so that its memory never counts against acsync's), a
//! temporary configuration folder whose connection points at it, segment
//! files, and, where a case starts from a synced export, a state database
//! seeded exactly as a previous run would have left it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use acsync::config;
use acsync::model::{ListStatus, Member};
use acsync::simulator::{ChangedBy, SimConfig, Simulator};
use acsync::state::{ExportMeta, StateDb};

/// The export every case runs.
pub const EXPORT: &str = "bench";

/// The email of profile `i`.
pub fn email(i: u64) -> String {
    format!("user{i}@example.com")
}

/// The CSV columns of profile `i` in `version` (a changed profile has another first name).
fn row(out: &mut String, i: u64, version: u32) {
    let first = if version == 0 { "First" } else { "Changed" };
    let _ = writeln!(out, "user{i}@example.com,{first}{i},Last{i},+1555{i:07}");
}

/// A segment population: members `0..n` were synced with version 0; the
/// segment drops the first `left`, adds `joined` new ones after `n`, and
/// changes the first name of `changed` of those that stay (spread evenly).
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    pub n: u64,
    pub joined: u64,
    pub left: u64,
    pub changed: u64,
}

impl Mix {
    pub fn same(n: u64) -> Mix {
        Mix {
            n,
            joined: 0,
            left: 0,
            changed: 0,
        }
    }

    /// Shares in per mille of `n`.
    pub fn churn(n: u64, joined: u64, left: u64, changed: u64) -> Mix {
        Mix {
            n,
            joined: n * joined / 1000,
            left: n * left / 1000,
            changed: n * changed / 1000,
        }
    }

    /// The segment's rows: `(index, version)`.
    pub fn segment(self) -> impl Iterator<Item = (u64, u32)> {
        let stay = self.n - self.left;
        let stride = stay.checked_div(self.changed).unwrap_or(u64::MAX).max(1);
        let changed = self.changed;
        (self.left..self.n)
            .map(move |i| {
                let k = i - self.left;
                let v = u32::from(k.is_multiple_of(stride) && k / stride < changed);
                (i, v)
            })
            .chain((self.n..self.n + self.joined).map(|i| (i, 0)))
    }

    /// Write requests a perfect run needs: bulk imports of 250 contacts,
    /// subscribes and updates in one stream, unsubscribes in another.
    pub fn min_writes(self) -> u64 {
        (self.joined + self.changed).div_ceil(250) + self.left.div_ceil(250)
    }
}

/// A simulator at ActiveCampaign's real limits when `real_limits` (5
/// requests in any sliding second, 100 bulk imports in any sliding minute,
/// `status:false` for 1 s after a submit), else unthrottled and quick.
pub fn sim_config(real_limits: bool) -> SimConfig {
    if real_limits {
        SimConfig::default()
    } else {
        SimConfig {
            requests_per_second: 0,
            bulk_per_minute: 0,
            bulk_single_per_minute: 0,
            info_false_for: Duration::from_millis(20),
            import_duration: Duration::from_millis(10),
            ..SimConfig::default()
        }
    }
}

/// A configured world around a simulator.
pub struct World {
    pub sim: Simulator,
    pub dir: tempfile::TempDir,
    pub list: u64,
}

impl World {
    /// A world whose connection is paced like a real account when
    /// `real_limits`, else unthrottled.
    pub async fn new(real_limits: bool) -> World {
        let sim = Simulator::start(sim_config(real_limits))
            .await
            .expect("simulator starts");
        let list = sim.add_list("Benchmark list");
        let mut dir = tempfile::tempdir().expect("tempdir");
        // `ACSYNC_BENCH_KEEP=1`: leave the world on disk, to profile a step
        // by hand (`suite --child plan DIR` under perf or valgrind).
        if std::env::var_os("ACSYNC_BENCH_KEEP").is_some() {
            dir.disable_cleanup(true);
            eprintln!("bench world kept in {}", dir.path().display());
        }
        let root = dir.path();
        std::fs::create_dir_all(root.join("exports")).expect("exports dir");
        std::fs::create_dir_all(root.join("segments")).expect("segments dir");
        std::fs::write(root.join("sim.key"), sim.api_key()).expect("key file");
        // Unthrottled worlds pace the client at the most the config allows.
        let rps = if real_limits { 5 } else { 100 };
        let settings = format!(
            "[daemon]\nstate_dir = \"state\"\n\n[connections.sim]\nurl = \"{}\"\n\
             api_key_file = \"sim.key\"\naccept_data_transfer = true\nrequests_per_second = {rps}\n",
            sim.base_url()
        );
        std::fs::write(root.join("acsync.toml"), settings).expect("settings");
        let export = format!(
            "connection = \"sim\"\nlist_id = {list}\nschedule = \"@hourly\"\n\
             max_profiles = 10000000\n\n[source]\nkind = \"csv\"\npath = \"../segments/{EXPORT}.csv\"\n\n\
             [mapping]\nemail = \"email\"\nfirst_name = \"first_name\"\nlast_name = \"last_name\"\nphone = \"phone\"\n"
        );
        std::fs::write(root.join("exports").join(format!("{EXPORT}.toml")), export)
            .expect("export file");
        World { sim, dir, list }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn segment_path(&self) -> PathBuf {
        self.root().join("segments").join(format!("{EXPORT}.csv"))
    }

    /// Writes the segment file.
    pub fn write_segment(&self, rows: impl Iterator<Item = (u64, u32)>) {
        write_csv(&self.segment_path(), rows);
    }

    pub fn export(&self) -> config::Export {
        export_in(self.root())
    }

    /// Makes members `0..n` (version 0) active contacts of the list.
    /// Returns their contact ids by index.
    pub fn seed_sim(&self, n: u64) -> Vec<u64> {
        (0..n)
            .map(|i| {
                let id = self.sim.add_contact(
                    &email(i),
                    Some(&format!("First{i}")),
                    Some(&format!("Last{i}")),
                    Some(&format!("+1555{i:07}")),
                );
                self.sim.set_membership(id, self.list, 1, ChangedBy::Import);
                id
            })
            .collect()
    }

    /// Seeds the state database as a converged run would leave it: members
    /// `0..n` owned, active, and sent version 0 (hashes computed by reading
    /// that version through acsync's own CSV reader, so they are exactly
    /// what a run compares with), and a full read just done.
    pub fn seed_state(&self, n: u64, contact_ids: Option<&[u64]>) {
        let sent = self.root().join("sent.csv");
        write_csv(&sent, (0..n).map(|i| (i, 0)));
        let export = self.export();
        let segment = acsync::source::read(
            &config::Source::Csv {
                path: sent.clone(),
                timeout: config::DEFAULT_SOURCE_TIMEOUT,
            },
            &export.mapping,
        )
        .expect("seed segment reads");
        std::fs::remove_file(&sent).ok();
        let mut db = StateDb::open(&self.root().join("state")).expect("state opens");
        let members: Vec<Member> = segment
            .profiles
            .iter()
            .enumerate()
            .map(|(i, p)| Member {
                contact_id: Some(contact_ids.map_or(i as u64 + 1, |ids| ids[i])),
                status: Some(ListStatus::Active),
                owned: true,
                sent_hash: Some(p.fields.hash64()),
                ..Member::unknown(p.email.as_str())
            })
            .collect();
        drop(segment);
        // Member rows are kept per account and list (docs/ownership.md).
        let scope = acsync::state::scope_of(&export);
        for chunk in members.chunks(100_000) {
            db.save_members(&scope, chunk).expect("seed members");
        }
        let meta = ExportMeta {
            fingerprint: acsync::run::prepare::export_fingerprint(&export),
            last_full_read: Some(chrono::Utc::now()),
            config_sha256: Some(export.sha256.clone()),
            ..Default::default()
        };
        db.set_export_meta(EXPORT, &meta).expect("seed meta");
    }
}

pub fn write_csv(path: &Path, rows: impl Iterator<Item = (u64, u32)>) {
    let file = std::fs::File::create(path).expect("create csv");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut buf = String::from("email,first_name,last_name,phone\n");
    for (i, v) in rows {
        row(&mut buf, i, v);
        if buf.len() > 1 << 16 {
            w.write_all(buf.as_bytes()).expect("write csv");
            buf.clear();
        }
    }
    w.write_all(buf.as_bytes()).expect("write csv");
    w.flush().expect("flush csv");
}

pub fn export_in(root: &Path) -> config::Export {
    let folder = config::load_folder(root);
    match folder.export(EXPORT) {
        Ok(e) => e.clone(),
        Err(e) => panic!("bench export: {e}"),
    }
}
