//! `palisade doctor`: print what this host can enforce.

pub fn main() -> i32 {
    let report = palisade_sandbox::doctor::check();
    let mut ok = true;
    for line in &report {
        let mark = if line.ok { "ok  " } else { "FAIL" };
        println!("{mark} {:<18} {}", line.layer, line.detail);
        if let Some(fix) = &line.fix {
            println!("     {:<18} fix: {fix}", "");
        }
        ok &= line.ok || !line.required;
    }
    println!("\nresource limits (asked for with --memory, --pids, --cpus, ...):");
    for limit in palisade_sandbox::limits::doctor() {
        for line in limit.to_string().lines() {
            println!("     {line}");
        }
    }
    if ok {
        0
    } else {
        1
    }
}
