//! The simulated account: pure data and the rules ActiveCampaign applies to
//! it (unique emails, membership indexes, field values, tags, contact
//! queries), plus its JSON snapshot and the seed-file reader. No HTTP, no
//! axum, no clock beyond record dates.

pub mod account;
pub mod fields;
pub mod query;
pub mod records;
pub mod seed;
pub mod snapshot;
pub mod tags;
pub mod values;
pub mod zone;
