//! The persisted mapping fingerprint: a state database written
//! by a version that stored the mapping's `Debug` text is taken as
//! unchanged, rewritten in the hashed form, and costs no full read.

use acsync::run::fingerprint::{export_fingerprint, legacy_export_fingerprint};
use acsync::state::{ExportMeta, StateDb};
use acsync::status::Outcome;

use crate::harness::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_fingerprint_forces_no_full_read_and_is_rewritten() {
    let w = World::new().await;
    w.write_export("vip", "full_read_every = \"7d\"");
    w.write_people("vip", &World::people(0..5));
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert!(r.last_run.full_read, "a first run reads the list");

    let export = w.export("vip");
    let legacy = legacy_export_fingerprint(&export);
    assert_ne!(legacy, export_fingerprint(&export));
    {
        let mut db = StateDb::open(&w.state_dir()).expect("state");
        let meta = db.export_meta("vip").expect("meta").expect("recorded");
        let old = ExportMeta {
            fingerprint: legacy.clone(),
            ..meta
        };
        db.set_export_meta("vip", &old).expect("write legacy row");
    }

    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert!(
        !r.last_run.full_read,
        "legacy fingerprint of the same mapping"
    );
    let db = StateDb::open(&w.state_dir()).expect("state");
    let meta = db.export_meta("vip").expect("meta").expect("recorded");
    assert_eq!(meta.fingerprint, export_fingerprint(&export), "rewritten");

    // A legacy row of another mapping still forces the read.
    let mut db = db;
    let other = legacy.replace("first_name", "given_name");
    db.set_export_meta(
        "vip",
        &ExportMeta {
            fingerprint: other,
            ..meta
        },
    )
    .expect("write");
    drop(db);
    let r = w.sync("vip").await;
    assert!(r.last_run.full_read, "a changed mapping reads the list");
}
