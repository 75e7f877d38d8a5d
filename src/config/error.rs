//! Located configuration errors: `FILE:LINE:COL: message`.
