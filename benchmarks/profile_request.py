"""Where the time of one ``GET /api/v1/search`` goes, end to end inside the app (issue 15 item 2).

    .venv/bin/python benchmarks/profile_request.py                      # seed library, SQLite + Whoosh
    .venv/bin/python benchmarks/profile_request.py --database-url postgresql+psycopg://postgres@127.0.0.1/kb_prof

Builds a fresh data directory (``kb init`` with the seed), issues a token, warms the app with one
pass over the queries, then runs ``--rounds`` passes of token-authenticated API searches under
cProfile through the WSGI test client (no network: what is left is the app's own work). Prints the
mean time per request, the SQL statements and commits per request, and the functions of ours (and
the few libraries) where the cumulative time goes.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KB = str(ROOT / ".venv" / "bin" / "kb")
PASSWORD = "Profile#Run2026x"
QUERIES = ("高血压 管理", "满意度", "预算执行率", "学生资助", "农村公路养护", "覆盖率", "及时率", "卫健委的满意度指标",
           "义务教育阶段家庭经济困难学生生活补助资金，保障符合条件学生应助尽助", "yszxl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--rounds", type=int, default=20, help="passes over the queries under the profiler")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--department", default="", help="profile as a department user of this code (else finance)")
    parser.add_argument("--page", action="store_true", help="the web search page (signed in) instead of the API")
    parser.add_argument("--cold", action="store_true",
                        help="no index version, so nothing is cached: every request as if its query were new")
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime …")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="kb-profile-"))
    env = dict(os.environ, KB_DATA_DIR=str(data_dir), KB_SECRET_KEY=secrets.token_hex(32), KB_PASSWORD=PASSWORD,
               SEARCH_RATE_PER_MINUTE="0")
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    subprocess.run([KB, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
    role = ["--role", "department", "--department", args.department] if args.department else ["--role", "finance"]
    subprocess.run([KB, "users", "add", "profiler", *role], env=env, check=True, stdout=subprocess.DEVNULL)
    os.environ.update(env)

    from sqlalchemy import event

    from webapp import create_app

    app = create_app()
    if args.cold:
        app.extensions["kb"].search.version = lambda: None
    client = app.test_client()
    token = client.post("/api/v1/tokens", json={"username": "profiler", "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    paths = [f"/api/v1/search?q={urllib.parse.quote(q)}&limit=10" for q in QUERIES]
    if args.page:
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
        signed_in = client.post("/login", data={"username": "profiler", "password": PASSWORD, "csrf_token": csrf.group(1)})
        assert signed_in.status_code == 302, signed_in.status_code
        headers = {}
        paths = [f"/?q={urllib.parse.quote(q)}" for q in QUERIES]
    counts = {"statements": 0, "commits": 0}
    engine = app.extensions["kb"].engine
    event.listen(engine, "before_cursor_execute", lambda *a, **k: counts.__setitem__("statements", counts["statements"] + 1))
    event.listen(engine, "commit", lambda *a: counts.__setitem__("commits", counts["commits"] + 1))
    for path in paths:  # warm: imports, caches, the index reader
        assert client.get(path, headers=headers).status_code == 200
    started = time.perf_counter()  # without the profiler first: the time a request really takes here
    for _ in range(args.rounds):
        for path in paths:
            client.get(path, headers=headers)
    plain = (time.perf_counter() - started) / (args.rounds * len(paths)) * 1000
    counts.update(statements=0, commits=0)
    sizes = []
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(args.rounds):
        for path in paths:
            response = client.get(path, headers=headers)
            sizes.append(len(response.data))
    profiler.disable()
    elapsed = time.perf_counter() - started
    requests = args.rounds * len(paths)
    print(f"load average {os.getloadavg()[0]:.2f}; {requests} requests, {plain:.2f} ms each ({elapsed / requests * 1000:.2f} "
          f"under cProfile), {counts['statements'] / requests:.2f} SQL statements and {counts['commits'] / requests:.2f} "
          f"commits per request, mean body {sum(sizes) / len(sizes):,.0f} bytes")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
