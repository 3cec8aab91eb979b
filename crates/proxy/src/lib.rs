//! The host-side egress proxy. Under construction: see issue 3.
