"""`labelkit serve`: what the shadow systems cost the primary answer, on loopback.

Starts the real server (`labelkit serve`, a uvicorn subprocess on a free 127.0.0.1 port) twice: the
primary alone (--no-rules, no challenger) and the primary with its rules (LF votes + label model) and
one challenger in shadow. Both stay up; the bundled example's test rows are sent at a fixed rate (open
loop, default 200 requests/s) in alternating blocks (alone, shadow, shadow, alone, ...), so both
configurations see the same background load on a shared machine. After each block the server is
drained (log written, shadow answered) before the next block starts, so no shadow work spills into
the alone block. Client-side latency per request; server-side latency (request start to the
primary's answer) from the log; CPU per request of the server process and of its shadow worker
process (from /proc, over each block and its drain: robust to other load on the machine). Checks
afterwards that the log kept up (every answered request written, nothing shed). Target: shadow adds
<= 1 ms at p99 at 200 requests/s. The p99 difference comes with a 95% interval from resampling
blocks; `--same` runs the primary alone on both servers, which shows the noise floor (A/A).

    .venv/bin/python benchmarks/serve.py --primary runs/support_tickets --challenger runs/candidate
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
LABELKIT = str(Path(sys.executable).with_name("labelkit"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: list[str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([LABELKIT, "serve", *args, "--port", str(port), "--log", str(log)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            health = httpx.get(f"{url}/health", timeout=1).json()
            shadow = health.get("shadow")
            if shadow is None or shadow["state"] in ("ready", "failed"):
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read()}")
        time.sleep(0.2)
    raise SystemExit("server did not start within 180 s")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(the server's CPU, its child processes' CPU - the shadow worker) in seconds, so far."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += (task / "children").read_text().split()
    own = process_cpu(pid)
    others = 0.0
    for child in children:
        try:
            others += process_cpu(int(child))
        except (FileNotFoundError, ProcessLookupError):
            pass  # a worker restarted meanwhile
    return own, others


def paced_block(url: str, rows: list[dict], rate: float, n: int, offset: int,
                senders: int = 3) -> tuple[list[float], float]:
    """Send n requests on a fixed schedule of `rate` per second from `senders` threads (open loop: a
    slow answer does not delay the next request, up to `senders` in flight), each on its own keep-alive
    connection with the standard library's http.client (httpx's per-request cost in the client would
    otherwise set the rate on 2 cores); returns the latencies (ms) and the block's duration (s)."""
    import http.client
    import itertools
    import threading
    from urllib.parse import urlsplit

    host = urlsplit(url)
    body = [json.dumps(row).encode() for row in rows]

    latencies, failures = [None] * n, []
    schedule, lock = itertools.count(), threading.Lock()
    start = time.perf_counter()

    def send() -> None:
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
        while True:
            with lock:
                i = next(schedule)
            if i >= n:
                return
            pause = start + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            sent = time.perf_counter()
            connection.request("POST", "/predict", body=body[(offset + i) % len(rows)],
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            text = response.read()
            latencies[i] = (time.perf_counter() - sent) * 1000
            if response.status != 200:
                failures.append(f"request {offset + i}: HTTP {response.status} {text[:200]!r}")

    threads = [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(failures[0])
    return latencies, time.perf_counter() - start


def drain(url: str, timeout: float = 60) -> dict:
    import httpx

    deadline = time.time() + timeout
    counters = {}
    while time.time() < deadline:
        counters = httpx.get(f"{url}/counters", timeout=5).json()
        if counters.get("log_pending", 1) == 0 and counters.get("shadow_pending_rows", 0) == 0:
            break
        time.sleep(0.05)
    return counters


def summary(label: str, latencies: list[float], seconds: float, counters: dict, log: Path, warmup: int,
            cpu: tuple[float, float]) -> dict:
    import sqlite3

    from labelkit.serve.log import check_log

    check = check_log(log)
    con = sqlite3.connect(log)
    server = np.asarray([r[0] for r in con.execute("SELECT latency_ms FROM requests WHERE seq > ?", (warmup,))])
    con.close()
    client = np.asarray(latencies)
    p50, p95, p99 = np.percentile(client, [50, 95, 99])
    return {"label": label, "p50": p50, "p95": p95, "p99": p99, "max": client.max(),
            "server_p50": np.percentile(server, 50), "server_p99": np.percentile(server, 99),
            "rate": len(client) / seconds, "counters": counters, "log_ok": check["ok"],
            "cpu_ms": cpu[0] * 1000 / len(client), "worker_cpu_ms": cpu[1] * 1000 / len(client),
            "logged": sum(v for k, v in check["counted"].items() if k.startswith("requests_"))}


def p99_difference_interval(first: list[np.ndarray], second: list[np.ndarray], *, draws: int = 1000,
                            seed: int = 0) -> tuple[float, float]:
    """95% interval of p99(second) - p99(first), resampling whole blocks (latencies within a block are
    correlated by the background load of their moment, so single requests are not independent)."""
    rng = np.random.default_rng(seed)

    def p99(blocks: list[np.ndarray]) -> float:
        return np.percentile(np.concatenate([blocks[i] for i in rng.integers(0, len(blocks), len(blocks))]), 99)

    differences = [p99(second) - p99(first) for _ in range(draws)]
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high)


def main() -> None:
    import httpx

    from labelkit.io.display import interval_text

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--primary", default=str(ROOT / "runs" / "support_tickets"))
    parser.add_argument("--challenger", default=None, help="Default: the primary again, as a second build.")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--requests", type=int, default=2000, help="Requests per configuration.")
    parser.add_argument("--blocks", type=int, default=8, help="Alternating blocks per configuration.")
    parser.add_argument("--same", action="store_true",
                        help="A/A check: the second server is the primary alone too, so the p99 difference printed "
                             "is the noise floor of this machine at this rate.")
    args = parser.parse_args()
    challenger = args.challenger or args.primary
    test = pd.read_csv(ROOT / "datasets" / "support_tickets" / "test.csv", keep_default_na=False, dtype=str)
    rows = [{"id": r["ticket_id"], "text": r["text"], "country": r["country"], "channel": r["channel"],
             "product": r["product"]} for r in test.to_dict("records")]
    configs = {"primary alone": [args.primary, "--no-rules"],
               "primary + rules + challenger in shadow": [args.primary, "--shadow", challenger]}
    if args.same:
        configs = {"primary alone": [args.primary, "--no-rules"],
                   "primary alone (2nd server)": [args.primary, "--no-rules"]}
    warmup, block = 50, max(1, args.requests // args.blocks)
    with tempfile.TemporaryDirectory() as tmp:
        servers = {label: start_server(argv, Path(tmp) / f"{i}.sqlite") for i, (label, argv) in enumerate(configs.items())}
        clients = {label: httpx.Client(base_url=url, timeout=10) for label, (_, url) in servers.items()}
        latencies = {label: [] for label in configs}
        per_block = {label: [] for label in configs}
        seconds = dict.fromkeys(configs, 0.0)
        cpu = {label: [0.0, 0.0] for label in configs}  # server, worker: over each block + its drain
        load = [os.getloadavg()[0]]
        try:
            for label, client in clients.items():
                for row in rows[:warmup]:
                    client.post("/predict", json=row)
                drain(servers[label][1])
            order = list(configs)
            for b in range(args.blocks):
                for label in (order if b % 2 == 0 else order[::-1]):
                    before = cpu_seconds(servers[label][0].pid)
                    lat, took = paced_block(servers[label][1], rows, args.rate, block, warmup + b * block)
                    latencies[label] += lat
                    per_block[label].append(np.asarray(lat))
                    seconds[label] += took
                    drain(servers[label][1])
                    after = cpu_seconds(servers[label][0].pid)
                    cpu[label] = [total + a - b for total, a, b in zip(cpu[label], after, before)]
                load.append(os.getloadavg()[0])
            counters = {label: drain(url) for label, (_, url) in servers.items()}
        finally:
            for proc, _ in servers.values():
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        alone, shadow = (summary(label, latencies[label], seconds[label], counters[label],
                                 Path(tmp) / f"{i}.sqlite", warmup, cpu[label]) for i, label in enumerate(configs))
    n = block * args.blocks
    print(f"{n} requests per configuration at {args.rate:g}/s on loopback, one row each, in {args.blocks} alternating "
          f"blocks; latency in ms (client side; server = request start to the primary's answer); load average "
          f"{min(load):.1f}-{max(load):.1f} on {os.cpu_count()} cores")
    print(f"{'configuration':<40} {'rate/s':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'srv p50':>7} "
          f"{'srv p99':>7} {'cpu/req':>7} {'wrk/req':>7}  logged  shadow ok / shed")
    for r in (alone, shadow):
        c = r["counters"]
        print(f"{r['label']:<40} {r['rate']:6.0f} {r['p50']:7.2f} {r['p95']:7.2f} {r['p99']:7.2f} {r['max']:7.1f} "
              f"{r['server_p50']:7.2f} {r['server_p99']:7.2f} {r['cpu_ms']:7.2f} {r['worker_cpu_ms']:7.2f}  "
              f"{r['logged']:6d}  {c.get('shadow_ok', 0)} / "
              f"{c.get('requests_shed', 0)}   log integrity+counters ok: {r['log_ok']}")
    added = shadow["p99"] - alone["p99"]
    low, high = p99_difference_interval(*per_block.values())
    interval = interval_text((low, high), "+.2f", percent=False)
    print(f"shadow adds {added:+.2f} ms at p99, 95% block-bootstrap interval {interval} "
          f"(target <= 1 ms: {'met' if added <= 1 else 'NOT met'}); "
          f"p50 {shadow['p50'] - alone['p50']:+.2f} ms; server-side p99 {shadow['server_p99'] - alone['server_p99']:+.2f} ms")
    keeps_up = all(r["logged"] == n + warmup and r["counters"].get("log_pending", 1) == 0 for r in (alone, shadow))
    print(f"log writes keep up (every request written, nothing pending): {keeps_up}")
    print(json.dumps({"added_p99_ms": round(float(added), 3), "added_p99_interval": [round(low, 3), round(high, 3)],
                      "load_average": [round(min(load), 2), round(max(load), 2)],
                      **{key: {k: round(float(r[k]), 3) for k in ("p50", "p95", "p99", "server_p99", "rate", "cpu_ms",
                                                                  "worker_cpu_ms")}
                         for key, r in (("alone", alone), ("shadow", shadow))}}))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
