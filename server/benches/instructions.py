#!/usr/bin/env python3
"""User-space instructions per IAMAT of the whole herd, counted by valgrind's callgrind.

Counts instructions, not seconds: the same binary and input give nearly the same count
whatever else the machine is doing, so two builds compare on a shared, noisy machine where
the load benchmark's throughput moves by a third between runs. Kernel time (the sockets) is
not counted; the load benchmark (`cargo bench -p server --bench load`) measures that.

Each binary runs the five-server herd in one process (`server --herd FILE`, every server) under
callgrind, on free loopback ports, at its default log level. Four client connections to
Bailey send IAMATs closed-loop (each waits for its reply), each for one client moving to a
newer timestamp, so every IAMAT is stored and flooded through the herd. Two runs per binary,
with SMALL and LARGE IAMATs; the difference divided by LARGE - SMALL is the cost of one IAMAT,
without start-up and shutdown. The first binary is the baseline of the ratios.

    server/benches/instructions.py BASE_BINARY NEW_BINARY [--small 1000] [--large 3000]

Each run takes about half a minute under valgrind (`apt-get install valgrind`; not needed by
the tests or CI).
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

NAMES = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"]
LINKS = [("Bailey", "Bona"), ("Bailey", "Campbell"), ("Bona", "Campbell"),
         ("Bona", "Clark"), ("Campbell", "Jaquez"), ("Clark", "Jaquez")]
CONNECTIONS = 4
START_WAIT_S = 60      # for the herd to listen and link, under valgrind
SETTLE_S = 6           # for the last flood to reach every server before the stop
REPLY_TIMEOUT_S = 30   # per reply, under valgrind


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_listening(port, deadline):
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"instructions: nothing listens on 127.0.0.1:{port} after {START_WAIT_S} s")


def drive(port, count):
    socks = [socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT_S)
             for _ in range(CONNECTIONS)]
    files = [s.makefile("rb") for s in socks]
    for i in range(count):
        k = i % CONNECTIONS
        socks[k].sendall(f"IAMAT bench{k} +34.068930-118.445127 {1_700_000_000 + i}.5\n".encode())
        reply = files[k].readline()
        if not reply.startswith(b"AT "):
            sys.exit(f"instructions: IAMAT {i} got {reply!r}")
    for s in socks:
        s.close()


def count(binary, iamats):
    """Total instructions of one run of `binary` with `iamats` IAMATs, and the records stored."""
    with tempfile.TemporaryDirectory(prefix="herd-instructions-") as d:
        ports = free_ports(len(NAMES))
        with open(os.path.join(d, "herd.yaml"), "w") as f:
            f.write("servers:\n")
            for name, port in zip(NAMES, ports):
                f.write(f"  - {{ name: {name}, port: {port} }}\n")
            f.write("links:\n")
            for a, b in LINKS:
                f.write(f"  - {{ between: [{a}, {b}] }}\n")
        out = os.path.join(d, "callgrind.out")
        env = {k: v for k, v in os.environ.items() if k not in ("RUST_LOG", "PLACES_API_KEY")}
        env["HERD_SECRET"] = "instructions-bench"
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary,
             "--herd", os.path.join(d, "herd.yaml"), "--log-dir", os.path.join(d, "logs")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + START_WAIT_S
            for port in ports:
                wait_listening(port, deadline)
            time.sleep(3)  # links up
            drive(ports[0], iamats)
            time.sleep(SETTLE_S)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        totals = subprocess.run(["callgrind_annotate", out], capture_output=True, text=True).stdout
        match = re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", totals)
        if not match:
            sys.exit(f"instructions: no totals from callgrind for {binary}")
        stored = 0
        for name in NAMES:
            with open(os.path.join(d, "logs", f"{name}.log")) as log:
                stored += sum('"event":"record_stored"' in line for line in log)
        return int(match.group(1).replace(",", "")), stored


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binaries", nargs="+", help="server binaries; the first is the baseline")
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=3000)
    args = parser.parse_args()
    if not 0 < args.small < args.large <= 20_000:
        sys.exit("instructions: need 0 < --small < --large <= 20000")
    rows = []
    for binary in args.binaries:
        small, _ = count(binary, args.small)
        large, stored = count(binary, args.large)
        per_iamat = (large - small) / (args.large - args.small)
        rows.append((binary, per_iamat, stored / args.large))
        print(f"{binary}: {per_iamat:,.0f} instructions per IAMAT "
              f"({stored / args.large:.1f} record_stored lines per IAMAT)", flush=True)
    base = rows[0][1]
    print()
    print(f"{'binary':<50} {'per IAMAT':>12} {'vs first':>9}")
    for binary, per_iamat, _ in rows:
        print(f"{binary:<50} {per_iamat:>12,.0f} {per_iamat / base:>8.2f}x")


if __name__ == "__main__":
    main()
