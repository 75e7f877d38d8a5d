//! The shared vocabulary of a run: profiles, their mapped fields, and what we
//! know about each list member. Pure data; no IO.
//!
//! This file only declares the children and re-exports them, so that
//! `crate::model::Member` and friends keep one path; the children (and
//! `segment`) import each other's files directly, never this root, so no
//! import cycle runs through it.

pub mod known;
pub mod member;
pub mod policy;
pub mod printable;
pub mod profile;
pub mod provenance;
pub mod reason;
pub mod status;

pub use known::Known;
pub use member::{LiveMember, Member, PendingOp};
pub use policy::{Prune, RemovalLimit};
pub use printable::{printable, quoted};
pub use profile::{Fields, Profile, mask_email};
pub use provenance::Evidence;
pub use reason::{Kept, LeftAlone};
pub use status::{
    ListStatus, MembershipRow, UnsubscribeMarks, WriteWindow, other_statuses_possible,
};
