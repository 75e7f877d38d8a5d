//! The status file next to each export: model, masking, atomic write.
