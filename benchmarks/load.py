"""Load test: N concurrent users searching and browsing against ``kb serve`` (gunicorn) on loopback.

    .venv/bin/python benchmarks/load.py --users 50 --duration 300 --workers 2
    .venv/bin/python benchmarks/load.py --database-url postgresql+psycopg://postgres@127.0.0.1/kb_load
    .venv/bin/python benchmarks/load.py --closed-loop 5000 --users 50          # API search, no think time
    .venv/bin/python benchmarks/load.py --closed-loop 5000 --users 50 --compare-postgres postgresql+psycopg://postgres@127.0.0.1/kb_load
    .venv/bin/python benchmarks/load.py --closed-loop 5000 --compare benchmarks/results/load-20261205T0800Z-closed.json

It builds a fresh data directory (``kb init`` with the seed), creates accounts, starts
``kb serve --workers W``, signs every user in through the login form (CSRF token included), then
each user loops until the deadline: pick an action (search page, API search, indicator page,
department page, home), wait a think time, repeat. Every response is timed; any status ≥ 400,
a connection error or a page without its expected content counts as an error. Prints p50/p95/p99
per action and overall, and writes a JSON report (``--report``).

``--closed-loop N`` measures saturated throughput instead: every user signs in, then the users send
``GET /api/v1/search`` with a token (with ``--page``: the web search page ``GET /?q=`` with the
session) back to back (no think time, no ramp-up) until N requests were
sent in all; requests/s and latency percentiles are printed. ``--compare-postgres URL`` runs the same
measurement again with the server on that PostgreSQL database (``kb init`` seeds it; use a database of
its own, e.g. ``kb_load_bench``), once per search backend of ``--postgres-backends`` (Whoosh: only the database differs; the PostgreSQL full-text
backend: everything in PostgreSQL), so SQLite + Whoosh and PostgreSQL are compared in one run.

Every run prints the load average at its start and end (the machine may be shared: figures taken
above load 2 are upper bounds), the server's CPU time per request (its processes' user + system time,
which other programs on the machine do not inflate as much as wall time) and saves a small JSON under
``benchmarks/results/``; ``--compare FILE`` prints this run's ratios against such an earlier file.
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
RESULTS = ROOT / "benchmarks" / "results"
BACKENDS = {"whoosh": "search.whoosh_backend.WhooshBackend", "postgres": "search.postgres_backend.PostgresBackend"}
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
                 ready: threading.Barrier | None = None, page: bool = False) -> None:
        super().__init__(daemon=True)
        self.budget, self.ready, self.page = budget, ready, page
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
        """Searches back to back until the shared budget is spent (after every user has signed in)."""
        self.ready.wait()
        while self.budget.take():
            query = urllib.parse.quote(self.random.choice(self.queries))
            if self.page:
                self.timed("search", "GET", f"/?q={query}", expect="检索".encode())
            else:
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
    # Closed loop: "steady state" is after the first tenth of the requests (see run_load).
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
    summary["error_samples"] = [row for row in results if row[3]][:3]
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
    parser.add_argument("--page", action="store_true",
                        help="with --closed-loop: the web search page (signed-in session) instead of the API")
    parser.add_argument("--compare-postgres", default="", metavar="URL",
                        help="run the same measurement again on this PostgreSQL database (SQLAlchemy URL)")
    parser.add_argument("--postgres-backends", default="whoosh,postgres",
                        help="search backends for the PostgreSQL runs, comma-separated: whoosh, postgres")
    parser.add_argument("--compare", type=Path, default=None, metavar="FILE",
                        help="print ratios against an earlier run's JSON (benchmarks/results/…)")
    parser.add_argument("--report", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--label", default="", help="a word for this run, kept in the JSON and its file name")
    parser.add_argument("--no-save", action="store_true", help="do not save the JSON under benchmarks/results/")
    args = parser.parse_args()

    load_start = os.getloadavg()
    print(f"load average at start: {_load(load_start)}", file=sys.stderr)
    runs = {"sqlite" if not args.database_url else "given database": run_load(args, args.database_url, args.search_backend)}
    if args.compare_postgres:
        for name in [n.strip() for n in args.postgres_backends.split(",") if n.strip()]:
            runs[f"postgresql+{name}"] = run_load(args, args.compare_postgres, BACKENDS[name])
    load_end = os.getloadavg()
    report = {
        "kind": "closed-loop" + (" page" if args.page else " api") if args.closed_loop else "open-loop",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "argv": sys.argv[1:],
        "label": args.label,
        "load_average": {"start": list(load_start), "end": list(load_end)},
        "runs": runs,
    }
    for name, summary in runs.items():
        print(_line(name, summary), file=sys.stderr)
    print(f"load average at end: {_load(load_end)}", file=sys.stderr)
    if args.compare:
        print(compare(report, json.loads(args.compare.read_text(encoding="utf-8")), args.compare.name), file=sys.stderr)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.report:
        args.report.write_text(text, encoding="utf-8")
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        mode = f"closed{args.closed_loop}-{'page' if args.page else 'api'}" if args.closed_loop else f"open{int(args.duration)}s"
        label = f"-{re.sub(r'[^A-Za-z0-9_.-]+', '_', args.label)}" if args.label else ""
        path = RESULTS / f"load-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{mode}-u{args.users}{label}.json"
        path.write_text(text, encoding="utf-8")
        print(f"saved {path.relative_to(ROOT)}", file=sys.stderr)


def _load(values) -> str:
    return " / ".join(f"{v:.2f}" for v in values) + " (1, 5, 15 min)"


def _line(name: str, summary: dict) -> str:
    row, steady = summary["all (excl. login)"], summary["steady state (after ramp-up)"]
    cpu = summary.get("server_cpu_ms_per_request")
    return (f"{name:>20}: {summary['throughput_rps']:7.1f} requests/s  p50 {row['p50_ms']} ms  p95 {row['p95_ms']} ms  "
            f"p99 {row['p99_ms']} ms  errors {row['errors']}" + (f"  server CPU {cpu} ms/request" if cpu else "")
            + f"\n{'steady state':>20}: p50 {steady['p50_ms']} ms  p95 {steady['p95_ms']} ms  p99 {steady['p99_ms']} ms")


def compare(report: dict, earlier: dict, label: str) -> str:
    """This run against an earlier one: ratios new / old per run name (> 1: more of it now)."""
    before = earlier.get("runs") or {"sqlite": earlier}  # files written before the "runs" layout: one run
    lines = [f"against {label} ({earlier.get('created', '?')}, load average at its start "
             f"{_load(earlier.get('load_average', {}).get('start', [float('nan')] * 3))}):"]
    for name, now in report["runs"].items():
        old = before.get(name)
        if old is None:
            lines.append(f"{name:>20}: not in the earlier run")
            continue
        a, b = now["all (excl. login)"], old["all (excl. login)"]

        def ratio(x, y):
            return f"{x / y:.2f}×" if x and y else "–"

        lines.append(f"{name:>20}: requests/s {ratio(now['throughput_rps'], old['throughput_rps'])}  "
                     f"p50 {ratio(a['p50_ms'], b['p50_ms'])}  p95 {ratio(a['p95_ms'], b['p95_ms'])}  "
                     f"p99 {ratio(a['p99_ms'], b['p99_ms'])}  server CPU/request "
                     f"{ratio(now.get('server_cpu_ms_per_request'), old.get('server_cpu_ms_per_request'))}")
    return "\n".join(lines)


def server_cpu_seconds(session_id: int) -> float:
    """User + system CPU seconds of every live process of the server's session (gunicorn and its workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[3]) == session_id:  # field 6 of stat: the session id
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


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
    print(f"data directory {data_dir}; database {database_url or 'SQLite'}, search {search_backend}", file=sys.stderr)
    subprocess.run([KB, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
    for name, role, department in ACCOUNTS:
        command = [KB, "users", "add", name, "--role", role] + (["--department", department] if department else [])
        subprocess.run(command, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # kept from a run before
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
                      arrival=ramp_up * n / max(args.users, 1), budget=budget, ready=ready, page=args.page)
                 for n in range(args.users)]
        for user in users:
            user.start()
        if closed:
            ready.wait()  # every user has signed in: the measured part starts now
            started = time.monotonic()
            cpu_before, client_before = server_cpu_seconds(server.pid), time.process_time()
        for user in users:
            user.join(None if closed else args.duration + 60)
        elapsed = time.monotonic() - started
        server_cpu, client_cpu = server_cpu_seconds(server.pid) - cpu_before, time.process_time() - client_before
        steady_from = started + ramp_up
        if closed:  # "steady state": after the first tenth of the requests (the cache is cold at first)
            done = sorted(row[5] for row in results if row[0] != "login")
            steady_from = done[len(done) // 10] if done else started
        summary = summarise(results, elapsed, steady_from)
        measured = summary["all (excl. login)"]["requests"] if closed else summary["steady state (after ramp-up)"]["requests"]
        summary["server_cpu_ms_per_request"] = round(server_cpu * 1000 / max(measured, 1), 2) if closed else None
        summary["client_cpu_ms_per_request"] = round(client_cpu * 1000 / max(measured, 1), 2) if closed else None
        summary["setup"] = {"load_average_before": load_before, "load_average_after": list(os.getloadavg()),
                            "users": args.users, "duration_s": round(elapsed, 1), "workers": args.workers, "threads": args.threads,
                            "think_s": list(think), "ramp_up_s": ramp_up, "closed_loop_requests": args.closed_loop or None,
                            "database": re.sub(r":[^:@/]*@", ":***@", database_url) or "sqlite", "backend": search_backend, "cpus": os.cpu_count()}
        return summary
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log.close()


if __name__ == "__main__":
    main()
