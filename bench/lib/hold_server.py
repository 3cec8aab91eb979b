"""Loopback TCP server that accepts connections and holds them open, reading and discarding.

Usage: hold_server.py PORT LIFETIME_S   (binds 127.0.0.1 only; exits after LIFETIME_S)
"""

import asyncio
import resource
import sys


async def hold(reader, writer):
    try:
        while await reader.read(4096):
            pass
    except ConnectionError:
        pass
    writer.close()


async def main():
    port, lifetime = int(sys.argv[1]), float(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = await asyncio.start_server(hold, "127.0.0.1", port, backlog=4096)
    async with server:
        await asyncio.sleep(lifetime)


if __name__ == "__main__":
    asyncio.run(main())
