//! `palisade check`: validate and print the effective policy and the mount plan.

use palisade_sandbox::plan::{build_fs_plan, Action, WriteLayer};

use crate::{inputs, PolicyArgs};

pub fn main(args: &PolicyArgs) -> i32 {
    match check(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("palisade: {e:#}");
            125
        }
    }
}

fn check(args: &PolicyArgs) -> anyhow::Result<()> {
    let eff = inputs::load(args)?;
    let mut fs = inputs::fs_inputs(&eff)?;
    match eff.policy.filesystem.mode.unwrap_or_default() {
        palisade_policy::FsMode::Direct => {}
        palisade_policy::FsMode::Overlay => {
            fs.layer = Some(WriteLayer::Store {
                upper: "<change set>/upper".into(),
                work: "<change set>/work".into(),
            })
        }
        palisade_policy::FsMode::Tmpfs => fs.layer = Some(WriteLayer::Tmpfs { size: None }),
    }
    let plan = build_fs_plan(&fs)?;
    println!("# policy: {}", eff.source);
    println!("# workspace: {}", eff.workspace.display());
    print!(
        "{}",
        eff.policy.to_toml_pretty().map_err(anyhow::Error::msg)?
    );
    println!("\n# Mount plan (host root read-only first, then in this order):");
    for op in &plan.ops {
        let what = match &op.action {
            Action::BindWritable => "writable".to_string(),
            Action::BindReadOnly => "read-only".to_string(),
            Action::Anchor => "anchor (rename-proof parent)".to_string(),
            Action::MaskDir { .. } | Action::MaskFile => "hidden".to_string(),
            Action::Tmpfs { size: Some(s) } => format!("private tmpfs, {s} bytes"),
            Action::Tmpfs { size: None } => "private tmpfs".to_string(),
            Action::Overlay(WriteLayer::Store { .. }) => "overlay (change set)".to_string(),
            Action::Overlay(WriteLayer::Tmpfs { .. }) => "overlay (tmpfs, discarded)".to_string(),
        };
        println!("#   {:<28} {}", what, op.path.display());
    }
    for p in &plan.protect_missing {
        println!("#   {:<28} {}", "protected (absent)", p.display());
    }
    for w in &plan.warnings {
        println!("# warning: {w}");
    }
    Ok(())
}
