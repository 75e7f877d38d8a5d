//! The shared vocabulary of a run: profiles, their mapped fields, and what we
//! know about each list member. Pure data; no IO.
//!
//! This file only declares the children and re-exports them, so that
//! `crate::model::Member` and friends keep one path; the children (and
//! `known`, `segment`) import each other's files directly, never this root,
//! so model, known and segment form no import cycle.

pub mod member;
pub mod policy;
pub mod profile;
pub mod reason;
pub mod status;

pub use crate::known::Known;
pub use member::{LiveMember, Member, PendingOp};
pub use policy::{Prune, RemovalLimit};
pub use profile::{Fields, Profile, mask_email};
pub use reason::{Kept, LeftAlone};
pub use status::{ListStatus, MembershipRow, UnsubscribeWindow};
