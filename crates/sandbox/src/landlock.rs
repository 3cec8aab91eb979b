//! Landlock, the second filesystem layer: even if a mount were undone, writes outside the
//! writable roots stay refused, and the command cannot signal or reach abstract Unix sockets
//! outside its own domain.
//!
//! Landlock only grants (a rule cannot carve a denied path out of a granted tree), so the
//! denied and protected paths inside granted trees rest on the mounts alone; this layer backs
//! the coarse rule "read everything, write only here". See README, Limitations.

use std::path::PathBuf;

use landlock::{
    Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope, ABI,
};

/// The ABI this code asks for: filesystem rights up to `IoctlDev` and both scopes.
const WANTED: ABI = ABI::V6;

/// The Landlock ABI version the running kernel offers, 0 when it has none.
pub fn kernel_abi() -> i32 {
    const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
    // SAFETY: the version query takes no pointer and creates no descriptor.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if v < 0 {
        0
    } else {
        v as i32
    }
}

fn abi_for(version: i32) -> ABI {
    match version.min(WANTED as i32) {
        6 => ABI::V6,
        5 => ABI::V5,
        4 => ABI::V4,
        3 => ABI::V3,
        2 => ABI::V2,
        _ => ABI::V1,
    }
}

/// Restricts the calling process: read and execute everywhere, full access below
/// `write_roots`. Fails unless every right the kernel supports (up to [`WANTED`]) is enforced.
pub fn restrict(write_roots: &[PathBuf]) -> Result<(), String> {
    let version = kernel_abi();
    if version < 1 {
        return Err("Landlock is not available on this kernel".to_string());
    }
    let abi = abi_for(version);
    let build = || -> Result<RulesetStatus, landlock::RulesetError> {
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(AccessFs::from_all(abi))?;
        if abi >= ABI::V6 {
            ruleset = ruleset.scope(Scope::AbstractUnixSocket | Scope::Signal)?;
        }
        let mut created = ruleset.create()?;
        created = created.add_rules(landlock::path_beneath_rules(
            ["/"],
            AccessFs::from_read(abi),
        ))?;
        created = created.add_rules(landlock::path_beneath_rules(
            write_roots,
            AccessFs::from_all(abi),
        ))?;
        Ok(created.restrict_self()?.ruleset)
    };
    match build() {
        Ok(RulesetStatus::FullyEnforced) => Ok(()),
        Ok(other) => Err(format!(
            "Landlock was not fully enforced ({other:?}) at ABI {version}"
        )),
        Err(e) => Err(format!("Landlock: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn abi_mapping_caps_at_wanted() {
        assert_eq!(super::abi_for(7), super::WANTED);
        assert_eq!(super::abi_for(1), landlock::ABI::V1);
    }
}
