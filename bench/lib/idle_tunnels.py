"""Opens N idle CONNECT tunnels through a proxy, reports, holds them until told, closes them.

Usage: idle_tunnels.py PROXY_PORT TARGET_HOST TARGET_PORT N STATUS_FILE RELEASE_FILE HOLD_MAX_S
Writes {"opened": k, "refused": r, "failed": f, "first_error": ...} to STATUS_FILE once every
attempt has finished, then waits for RELEASE_FILE to exist (at most HOLD_MAX_S seconds) and
closes everything. Runs inside the sandbox, so the proxy is 127.0.0.1:PROXY_PORT there.
"""

import asyncio
import json
import os
import resource
import sys


async def open_one(port, target, sem):
    async with sem:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout=20
        )
        writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=20)
        status = head.split(b"\r\n", 1)[0]
        if b" 200" not in status:
            writer.close()
            return None, status.decode(errors="replace")
        return writer, None


async def main():
    port, host, tport, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    status_file, release_file, hold_max = sys.argv[5], sys.argv[6], float(sys.argv[7])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sem = asyncio.Semaphore(256)  # bounded dial concurrency; the tunnels themselves all stay open
    results = await asyncio.gather(
        *(open_one(port, f"{host}:{tport}", sem) for _ in range(n)), return_exceptions=True
    )
    writers = [r[0] for r in results if isinstance(r, tuple) and r[0] is not None]
    refused = [r[1] for r in results if isinstance(r, tuple) and r[0] is None]
    failed = [repr(r) for r in results if isinstance(r, BaseException)]
    with open(status_file + ".tmp", "w") as f:
        json.dump(
            {
                "requested": n,
                "opened": len(writers),
                "refused": len(refused),
                "failed": len(failed),
                "first_refusal": refused[0] if refused else None,
                "first_error": failed[0] if failed else None,
                "nofile_hard": hard,
            },
            f,
        )
    os.rename(status_file + ".tmp", status_file)
    waited = 0.0
    while not os.path.exists(release_file) and waited < hold_max:
        await asyncio.sleep(0.1)
        waited += 0.1
    for w in writers:
        w.close()


if __name__ == "__main__":
    asyncio.run(main())
