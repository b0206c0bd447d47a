"""Load test: N concurrent users searching and browsing against ``kb serve`` (gunicorn) on loopback.

    .venv/bin/python benchmarks/load.py --users 50 --duration 300 --workers 2
    .venv/bin/python benchmarks/load.py --database-url postgresql+psycopg://postgres@127.0.0.1/kb_load
    .venv/bin/python benchmarks/load.py --closed-loop 5000 --users 50          # API search, no think time
    .venv/bin/python benchmarks/load.py --closed-loop 5000 --users 50 --compare-postgres postgresql+psycopg://postgres@127.0.0.1/kb_load

It builds a fresh data directory (``kb init`` with the seed), creates accounts, starts
``kb serve --workers W``, signs every user in through the login form (CSRF token included), then
each user loops until the deadline: pick an action (search page, API search, indicator page,
department page, home), wait a think time, repeat. Every response is timed; any status ≥ 400,
a connection error or a page without its expected content counts as an error. Prints p50/p95/p99
per action and overall, and writes a JSON report (``--report``).

``--closed-loop N`` measures saturated throughput instead: every user signs in, then the users send
``GET /api/v1/search`` with a token back to back (no think time, no ramp-up) until N requests were
sent in all; requests/s and latency percentiles are printed. ``--compare-postgres URL`` runs the same
measurement a second time on PostgreSQL, so SQLite + Whoosh and PostgreSQL are compared in one run.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
KB = str(ROOT / ".venv" / "bin" / "kb")
PASSWORD = "Load#Test2026x"
ACCOUNTS = [("load_finance", "finance", None)] + [(f"load_dept{code}", "department", code) for code in ("101", "102", "103", "104")]
ACTIONS = (("search", 0.45), ("api_search", 0.10), ("indicator", 0.25), ("department", 0.10), ("home", 0.10))


def seed_vocabulary() -> tuple[list[str], list[str], list[str]]:
    """Queries, indicator codes and department codes taken from the YAML seed (what users type)."""
    names, keywords, codes, departments = [], [], [], []
    for path in sorted((ROOT / "kb" / "departments").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        departments.append(data["department"]["code"])
        for item in (data.get("indicator_set") or {}).get("indicators", []):
            names.append(item["name"])
            keywords.extend(item.get("keywords") or [])
            codes.append(item["code"])
    descriptions = [
        "2025年农村公路养护项目，主要用于县乡道日常养护和安全隐患整治，预期优良路率达到80%以上",
        "义务教育阶段家庭经济困难学生生活补助资金，保障符合条件学生应助尽助",
        "基本公共卫生服务项目，高血压和糖尿病患者规范管理，提高居民健康水平",
        "城乡居民最低生活保障资金按时足额发放，困难群众满意度不低于90%",
    ]
    queries = names[:150] + keywords[:100] + descriptions + ["满意度", "预算执行率", "覆盖率", "及时率", "manyidu", "yszxl"]
    return queries, codes, departments


class RequestBudget:
    """The fixed number of requests of a closed-loop run, shared by every user."""

    def __init__(self, total: int) -> None:
        self.left, self._lock = total, threading.Lock()

    def take(self) -> bool:
        with self._lock:
            self.left -= 1
            return self.left >= 0


class User(threading.Thread):
    def __init__(self, number: int, host: str, port: int, deadline: float, think: tuple[float, float],
                 vocabulary, results: list, account: str, arrival: float = 0.0, budget: RequestBudget | None = None,
                 ready: threading.Barrier | None = None) -> None:
        super().__init__(daemon=True)
        self.budget, self.ready = budget, ready
        self.number, self.host, self.port, self.deadline, self.think = number, host, port, deadline, think
        self.queries, self.codes, self.departments = vocabulary
        self.results, self.account, self.arrival = results, account, arrival
        self.random = random.Random(number)
        self.cookies: dict[str, str] = {}
        self.token = ""
        self.connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                payload = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # keep-alive connection closed by the server between requests: reconnect once
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
            except Exception:
                # a timed-out connection is unusable (http.client's "Request-sent" state): start afresh
                self.connection.close()
                self.connection = None
                raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, payload

    def timed(self, action: str, method: str, path: str, expect: bytes | None = None, **kwargs) -> None:
        started = time.perf_counter()
        error = ""
        try:
            status, payload = self.request(method, path, **kwargs)
            if status >= 400:
                error = f"HTTP {status}"
            elif expect is not None and expect not in payload:
                error = "unexpected content"
        except Exception as exc:  # every failure is counted, none stops the user
            status, error = 0, f"{type(exc).__name__}: {exc}"
        elapsed = (time.perf_counter() - started) * 1000
        self.results.append((action, elapsed, status, error, path, time.monotonic()))

    def login(self) -> None:
        status, page = self.request("GET", "/login")
        match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(rb'value="([^"]+)"[^>]*name="csrf_token"', page)
        form = {"username": self.account, "password": PASSWORD}
        if match:
            form["csrf_token"] = match.group(1).decode()
        body = urllib.parse.urlencode(form).encode()
        started = time.perf_counter()
        status, _ = self.request("POST", "/login", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.results.append(("login", (time.perf_counter() - started) * 1000, status, "" if status in (302, 303) else f"HTTP {status}", "/login", time.monotonic()))
        started = time.perf_counter()
        status, payload = self.request("POST", "/api/v1/tokens", body=json.dumps({"username": self.account, "password": PASSWORD}).encode(),
                                       headers={"Content-Type": "application/json"})
        self.results.append(("login", (time.perf_counter() - started) * 1000, status, "" if status in (200, 201) else f"HTTP {status}", "/api/v1/tokens", time.monotonic()))
        if status in (200, 201):
            self.token = json.loads(payload)["token"]

    def run(self) -> None:
        time.sleep(self.arrival)  # users arrive one after another during the ramp-up, as on a morning
        try:
            self.login()
        except Exception as exc:  # counted; the user keeps browsing with what it has
            self.results.append(("login", 0.0, 0, f"{type(exc).__name__}: {exc}", "/login", time.monotonic()))
        if self.budget is not None:
            self.closed_loop()
            return
        names, weights = zip(*ACTIONS)
        while time.monotonic() < self.deadline:
            action = self.random.choices(names, weights)[0]
            if action == "search":
                query = urllib.parse.quote(self.random.choice(self.queries))
                self.timed(action, "GET", f"/?q={query}", expect="检索".encode())
            elif action == "api_search":
                query = urllib.parse.quote(self.random.choice(self.queries))
                self.timed(action, "GET", f"/api/v1/search?q={query}&limit=10", expect=b'"total"',
                           headers={"Authorization": f"Bearer {self.token}"})
            elif action == "indicator":
                self.timed(action, "GET", f"/indicators/{urllib.parse.quote(self.random.choice(self.codes))}")
            elif action == "department":
                self.timed(action, "GET", f"/departments/{self.random.choice(self.departments)}")
            else:
                self.timed(action, "GET", "/")
            time.sleep(self.random.uniform(*self.think))


    def closed_loop(self) -> None:
        """API searches back to back until the shared budget is spent (after every user has signed in)."""
        self.ready.wait()
        while self.budget.take():
            query = urllib.parse.quote(self.random.choice(self.queries))
            self.timed("api_search", "GET", f"/api/v1/search?q={query}&limit=10", expect=b'"total"',
                       headers={"Authorization": f"Bearer {self.token}"})


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float("nan")


def summarise(results: list, duration: float, steady_from: float) -> dict:
    groups: dict[str, list] = defaultdict(list)
    for row in results:
        groups[row[0]].append(row)
    browsing = [row for row in results if row[0] != "login"]
    steady = [row for row in browsing if row[5] >= steady_from]
    summary = {}
    for name, rows in [("all (excl. login)", browsing), ("steady state (after ramp-up)", steady), *sorted(groups.items())]:
        times = [row[1] for row in rows]
        summary[name] = {
            "requests": len(rows),
            "errors": sum(1 for row in rows if row[3]),
            "p50_ms": round(percentile(times, 0.50), 1),
            "p95_ms": round(percentile(times, 0.95), 1),
            "p99_ms": round(percentile(times, 0.99), 1),
            "max_ms": round(max(times), 1) if times else None,
            "mean_ms": round(statistics.fmean(times), 1) if times else None,
        }
    summary["throughput_rps"] = round(len(browsing) / duration, 1)
    summary["error_kinds"] = dict(Counter(row[3].split(":")[0] for row in results if row[3]))
    summary["error_samples"] = [row for row in results if row[3]][:10]
    return summary


def wait_until_up(port: int, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("kb serve exited early; see its log")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/login")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("kb serve did not answer in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=300, help="seconds of measured load")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=5091)
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 5.0), metavar=("MIN", "MAX"), help="think time between a user's requests, seconds")
    parser.add_argument("--ramp-up", type=float, default=60.0, help="seconds over which the users arrive and sign in")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--search-backend", default="search.whoosh_backend.WhooshBackend")
    parser.add_argument("--closed-loop", type=int, default=0, metavar="N",
                        help="saturated API search: N requests in all, no think time (instead of --duration)")
    parser.add_argument("--compare-postgres", default="", metavar="URL",
                        help="run the same measurement again on this PostgreSQL database (SQLAlchemy URL)")
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args()

    runs = {"sqlite" if not args.database_url else "given database": run_load(args, args.database_url, args.search_backend)}
    if args.compare_postgres:
        runs["postgresql"] = run_load(args, args.compare_postgres, "search.postgres_backend.PostgresBackend")
    report = runs if len(runs) > 1 else next(iter(runs.values()))
    if len(runs) > 1:
        for name, summary in runs.items():
            row = summary["all (excl. login)"]
            print(f"{name:>14}: {summary['throughput_rps']:7.1f} requests/s  p50 {row['p50_ms']} ms  "
                  f"p95 {row['p95_ms']} ms  p99 {row['p99_ms']} ms  errors {row['errors']}", file=sys.stderr)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.report:
        args.report.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")


def run_load(args, database_url: str, search_backend: str) -> dict:
    """One measurement against a fresh ``kb serve`` on ``database_url`` (empty: SQLite in a temporary folder)."""
    data_dir = Path(tempfile.mkdtemp(prefix="kb-load-"))
    env = dict(os.environ, KB_DATA_DIR=str(data_dir), KB_SECRET_KEY=secrets.token_hex(32), KB_PASSWORD=PASSWORD,
               SEARCH_BACKEND=search_backend,
               # The per-user search limit (60 a minute) would answer 429 to a load of five shared accounts:
               # the benchmark measures the work of a search, not the limiter.
               SEARCH_RATE_PER_MINUTE="0")
    if database_url:
        env["DATABASE_URL"] = database_url
    print(f"data directory {data_dir}", file=sys.stderr)
    subprocess.run([KB, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
    for name, role, department in ACCOUNTS:
        command = [KB, "users", "add", name, "--role", role] + (["--department", department] if department else [])
        subprocess.run(command, env=env, check=False, stdout=subprocess.DEVNULL)
    log = open(data_dir / "serve.log", "w")
    server = subprocess.Popen([KB, "serve", "--port", str(args.port), "--workers", str(args.workers), "--threads", str(args.threads)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    closed = args.closed_loop > 0
    ramp_up, think = (0.0, (0.0, 0.0)) if closed else (args.ramp_up, tuple(args.think))
    try:
        wait_until_up(args.port, server)
        results: list = []
        vocabulary = seed_vocabulary()
        load_before = list(os.getloadavg())  # the machine is shared: record how busy it was
        budget = RequestBudget(args.closed_loop) if closed else None
        ready = threading.Barrier(args.users + 1) if closed else None
        started = time.monotonic()
        deadline = started + (float("inf") if closed else args.duration)
        users = [User(n, "127.0.0.1", args.port, deadline, think, vocabulary, results, ACCOUNTS[n % len(ACCOUNTS)][0],
                      arrival=ramp_up * n / max(args.users, 1), budget=budget, ready=ready) for n in range(args.users)]
        for user in users:
            user.start()
        if closed:
            ready.wait()  # every user has signed in: the measured part starts now
            started = time.monotonic()
        for user in users:
            user.join(None if closed else args.duration + 60)
        elapsed = time.monotonic() - started
        summary = summarise(results, elapsed, started + ramp_up)
        summary["setup"] = {"load_average_before": load_before, "load_average_after": list(os.getloadavg()),
                            "users": args.users, "duration_s": round(elapsed, 1), "workers": args.workers, "threads": args.threads,
                            "think_s": list(think), "ramp_up_s": ramp_up, "closed_loop_requests": args.closed_loop or None,
                            "database": database_url or "sqlite", "backend": search_backend, "cpus": os.cpu_count()}
        return summary
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log.close()


if __name__ == "__main__":
    main()
