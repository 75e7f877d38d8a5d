//! Validation: raw types into [`super::Export`] and [`super::Connection`].
