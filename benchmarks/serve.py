"""`labelkit serve`: what the shadow systems cost the primary answer, on loopback.

Starts the real server (`labelkit serve`, a uvicorn subprocess on a free 127.0.0.1 port) twice: the
primary alone (--no-rules, no challenger), then the primary with its rules (LF votes + label model)
and one challenger in shadow. Each run sends the bundled example's test rows at a fixed rate
(open loop, default 200 requests/s) for a bounded number of requests, measures client-side latency,
and checks afterwards that the log kept up (every answered request written, nothing shed).
Target: shadow adds <= 1 ms at p99 at 200 requests/s.

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


def paced_run(url: str, rows: list[dict], rate: float, n: int) -> np.ndarray:
    """Send n requests at `rate` per second (open loop: a slow answer does not slow the schedule)."""
    import httpx

    latencies = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for row in rows[:50]:  # warm-up
            client.post("/predict", json=row)
        start = time.perf_counter()
        for i in range(n):
            target = start + i / rate
            pause = target - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            sent = time.perf_counter()
            response = client.post("/predict", json=rows[i % len(rows)])
            latencies.append((time.perf_counter() - sent) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"request {i}: HTTP {response.status_code} {response.text[:200]}")
    return np.asarray(latencies)


def drain(url: str, sent: int, timeout: float = 60) -> dict:
    import httpx

    deadline = time.time() + timeout
    counters = {}
    while time.time() < deadline:
        counters = httpx.get(f"{url}/counters", timeout=5).json()
        if counters.get("log_pending", 1) == 0 and counters.get("shadow_pending_rows", 0) == 0:
            break
        time.sleep(0.2)
    return counters


def one(label: str, args: list[str], rows, rate, n, folder: Path) -> dict:
    log = folder / f"{label}.sqlite"
    proc, url = start_server(args, log)
    try:
        latencies = paced_run(url, rows, rate, n)
        counters = drain(url, n + 50)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    from labelkit.serve.log import check_log

    check = check_log(log)
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    return {"label": label, "p50": p50, "p95": p95, "p99": p99, "max": latencies.max(), "counters": counters,
            "log_ok": check["ok"], "logged": sum(v for k, v in check["counted"].items() if k.startswith("requests_"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--primary", default=str(ROOT / "runs" / "support_tickets"))
    parser.add_argument("--challenger", default=None, help="Default: the primary again, as a second build.")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    challenger = args.challenger or args.primary
    test = pd.read_csv(ROOT / "datasets" / "support_tickets" / "test.csv", keep_default_na=False, dtype=str)
    rows = [{"id": r["ticket_id"], "text": r["text"], "country": r["country"], "channel": r["channel"],
             "product": r["product"]} for r in test.to_dict("records")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        alone = one("primary alone", [args.primary, "--no-rules"], rows, args.rate, args.requests, folder)
        shadow = one("primary + rules + challenger in shadow", [args.primary, "--shadow", challenger],
                     rows, args.rate, args.requests, folder)
    print(f"{args.requests} requests at {args.rate:g}/s on loopback, one row each; latency in ms (client side)")
    print(f"{'configuration':<42} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  logged  shadow ok / shed")
    for r in (alone, shadow):
        c = r["counters"]
        print(f"{r['label']:<42} {r['p50']:7.2f} {r['p95']:7.2f} {r['p99']:7.2f} {r['max']:7.1f}  {r['logged']:6d}  "
              f"{c.get('shadow_ok', 0)} / {c.get('requests_shed', 0)}   log integrity+counters ok: {r['log_ok']}")
    added = shadow["p99"] - alone["p99"]
    print(f"shadow adds {added:+.2f} ms at p99 (target <= 1 ms: {'met' if added <= 1 else 'NOT met'}); "
          f"p50 {shadow['p50'] - alone['p50']:+.2f} ms")
    keeps_up = all(r["logged"] == args.requests + 50 and r["counters"].get("log_pending", 1) == 0
                   for r in (alone, shadow))
    print(f"log writes keep up (every request written, nothing pending): {keeps_up}")
    print(json.dumps({"alone": {k: round(float(alone[k]), 3) for k in ("p50", "p95", "p99")},
                      "shadow": {k: round(float(shadow[k]), 3) for k in ("p50", "p95", "p99")}}))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
