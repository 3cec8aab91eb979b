//! The Linux sandbox. Under construction: see issue 2.
