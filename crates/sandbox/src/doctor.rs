//! What this host can enforce. Filled in by `palisade doctor`.
