//! A faithful ActiveCampaign API v3 simulator: the other side of the wire,
//! used by tests, benchmarks and `acsync demo`.
//!
//! It serves the subset of `/api/3` acsync uses over real HTTP on loopback,
//! with the quirks documented in `activecampaign-api.md` (section numbers in
//! comments refer to it): string ids, `meta.total` as string or number,
//! the 5 rps sliding limit with 429 + `Retry-After`, bulk-import limits that
//! answer 400, asynchronous batches, `contactLists` resubscription, and
//! seeded, repeatable faults. Times are in the account's zone (US Central
//! by default, §12): zoned fields carry its offset, zoneless ones its local
//! wall-clock time. A membership row shows who unsubscribed it
//! (`unsubreason`, `campaign`, `message`, `unsubscribeAutomation`) and the
//! `sourceid` of the last `POST /contactLists`. It depends on nothing else
//! in acsync.
//!
//! Served under `/api/3`: `GET /lists`, `GET /lists/{id}`, `GET /fields`,
//! `GET /contacts` (with `include=contactLists`), `GET|PUT /contacts/{id}`, `POST /contacts`,
//! `GET /contacts/{id}/contactLists`, `POST /contact/sync`,
//! `POST /contactLists`, `POST /import/bulk_import`, `GET /import/info`,
//! `GET|POST /tags`, `POST /contactTags`, `DELETE /contactTags/{id}`.
//!
//! Choices where the doc is silent (each marked INFERRED or a gap there):
//! `status` with `listid` filters the per-list status (§3.3); `meta.total`
//! ignores the `id_greater`/`id_less` cursor; `/contact/sync` answers 201 on
//! create and 200 on update (§10 item 9); bulk calls also use the general
//! rps budget (§4.1); a bulk contact whose subscribe list has it at status
//! 2 or 3 fails whole (nothing written), as do excluded emails and those
//! failing the per-contact email check; `failure` lists emails in request
//! order; an injected 5xx consumed a rate-limit slot, a dropped connection
//! did not.
//!
//! Layout, each layer importing only the ones above it (no import cycle):
//! - `config`: [`SimConfig`] and [`Faults`], plain values;
//! - `model/`: the account (records, account rules, field values, tags,
//!   contact queries, lenient value reading, snapshot, seed file): pure
//!   data and rules, no axum;
//! - `engine/`: bulk batches and their application (`batches`, `world`),
//!   bulk request reading, the gate (limits, faults, [`Ledger`]), the state
//!   the server and the handle share;
//! - `routes/`: the axum endpoints and the JSON shapes on the wire;
//! - `server`: the accept loop and the per-request gate;
//! - `handle` and `persist`: the public [`Simulator`] API.
//!
//! This file only declares and re-exports.

mod config;
mod engine;
mod handle;
mod model;
mod persist;
mod routes;
mod server;

#[cfg(test)]
mod tests;

pub use config::{Faults, SimConfig};
pub use engine::batches::{ExcludeAutomationsAt, FailureIndexBase};
pub use engine::churn::ReadChurn;
pub use engine::gate::Ledger;
pub use handle::Simulator;
pub use model::records::{ChangedBy, SimContact, SimMembership};
pub use model::seed::{Seed, SeedError, SeedSummary};
pub use persist::StateError;
