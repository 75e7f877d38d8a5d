//! The pure planner: from segment, known members and (optionally) a live read,
//! what a run adds, updates, resubscribes and unsubscribes.
