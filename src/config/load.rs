//! Reading the configuration folder.
