//! `proxy_connect proxy-connect HOST PORT`: the same entry point as `palisade proxy-connect`,
//! built as an example so the SSH test can use it as a ProxyCommand without the CLI crate.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (host, port) = match args.as_slice() {
        [_, cmd, host, port] if cmd == "proxy-connect" => match port.parse::<u16>() {
            Ok(p) => (host.as_str(), p),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    let proxy = palisade_proxy::proxy_addr_from_env();
    match palisade_proxy::proxy_connect_stdio(proxy, host, port) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("palisade proxy-connect: {e}");
            ExitCode::from(1)
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: proxy_connect proxy-connect HOST PORT");
    ExitCode::from(2)
}
