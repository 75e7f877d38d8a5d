//! Configuration: the `acsync.toml` daemon settings and connections, and the
//! export files under `exports/**`. Three layers: [`raw`] serde types exactly as
//! written (with spans), [`validate`] turning them into the validated types of
//! [`types`], and the running state kept by the daemon. Reads files; talks
//! to no server.
//!
//! This file only declares the children and re-exports their public items
//! (`crate::config::Export` and friends): no child imports the module root,
//! they import each other directly, so the files of `config/` form no
//! import cycle.

pub mod account;
pub mod context;
pub mod cron;
pub mod discover;
pub mod error;
pub mod friendly;
pub mod key;
pub mod key_spans;
pub mod keylike;
pub mod load;
pub mod named_files;
pub mod perms;
pub mod raw;
pub mod redact;
pub mod settings;
pub mod shared_lists;
pub mod suggest;
pub mod types;
pub mod validate;
pub mod values;

pub use error::{ConfigError, ErrorKind, Located};
pub use key::{KeyError, KeySource, key_digest};
pub use load::{
    Folder, export_id_for, exports_dir, is_export_file, load_export, load_folder, load_settings,
    settings_path,
};
pub use settings::Settings;
pub use types::{
    ApiKeySource, Connection, DEFAULT_HISTORY_RETENTION, DEFAULT_SOURCE_TIMEOUT, DaemonSettings,
    Export, LoadedExport, LogFormat, Mapping, Schedule, Source,
};
