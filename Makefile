# 襄垣县预算绩效指标库 — the two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
KB_DATA_DIR ?= ./instance
export KB_DATA_DIR
# PostgreSQL used by `make test` when a server answers (CI has one); override or set empty to skip.
# The test database is dropped and re-created on every run: its name is this project's own, so it
# cannot be another application's database on the same server. Override both to taste.
PG_ADMIN_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
PG_TEST_DATABASE ?= kb_pytest_xiangyuan_indicators

.PHONY: run test test-sqlite test-postgres screenshots install install-test system-deps index clean help \
	check-deploy backup load-test fault-test bench-search db-upgrade db-revision

help:
	@echo "make run   — 安装、初始化数据并在 http://127.0.0.1:5000 启动"
	@echo "make test  — 安装测试依赖并运行全部测试（SQLite 与 PostgreSQL）"
	@echo "运维：make check-deploy | backup [BACKUP_DIR=…] | db-upgrade | load-test | fault-test | bench-search（见 docs/deploy.md）"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the package metadata changes.
$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test system-deps

run: install
	mkdir -p $(KB_DATA_DIR)
	$(BIN)/kb init
	$(BIN)/kb serve --host 127.0.0.1 --port 5000

# Chromium (browser tests), CJK fonts (readable screenshots) and LibreOffice Calc (tests read files
# that LibreOffice really saved, as departments send them) come from Debian's packages; installed only
# where missing, saying what and why first. Needs root or sudo; waits up to 2 minutes for apt's lock.
system-deps:
	@missing=""; \
	if ! { [ -n "$$KB_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then \
	  missing="$$missing chromium"; echo "将安装 chromium：浏览器端到端测试（tests/e2e）用它操作网页"; fi; \
	if ! command -v soffice >/dev/null 2>&1; then \
	  missing="$$missing libreoffice-calc-nogui"; echo "将安装 libreoffice-calc-nogui（约 300 MB）：表格导入测试用它生成 LibreOffice/WPS 实际保存的文件"; fi; \
	if [ ! -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]; then \
	  missing="$$missing fonts-noto-cjk"; echo "将安装 fonts-noto-cjk：截图中的中文字体"; fi; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "apt-get install$$missing（需要 root 或 sudo；不想安装可先自行安装，或设置 KB_CHROMIUM）"; \
	  $$SUDO apt-get -o DPkg::Lock::Timeout=120 update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get \
	    -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# The SQLite and PostgreSQL passes run side by side (two processes, one per core); each pass's output
# is printed as a block when it ends. `make test-sqlite` / `make test-postgres` run one alone.
test: install-test
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

test-sqlite:
	$(BIN)/python -m pytest -q

# Runs the same suite against PostgreSQL when a server answers; CI always has one. The test database
# (PG_TEST_DATABASE) is created next to PG_ADMIN_URL's database, with the same server and user.
test-postgres:
	@if [ -n "$(PG_ADMIN_URL)" ] && $(BIN)/python -c "import psycopg; psycopg.connect('$(PG_ADMIN_URL)', connect_timeout=3).close()" 2>/dev/null; then \
	  $(BIN)/python -c "import psycopg; from psycopg import sql; c = psycopg.connect('$(PG_ADMIN_URL)', autocommit=True); \
	    name = sql.Identifier('$(PG_TEST_DATABASE)'); \
	    c.execute(sql.SQL('DROP DATABASE IF EXISTS {} WITH (FORCE)').format(name)); c.execute(sql.SQL('CREATE DATABASE {}').format(name))" && \
	  KB_TEST_DATABASE_URL=$$($(BIN)/python -c "from sqlalchemy.engine import make_url; \
	    print(make_url('$(PG_ADMIN_URL)').set(drivername='postgresql+psycopg', database='$(PG_TEST_DATABASE)').render_as_string(hide_password=False))") \
	  $(BIN)/python -m pytest -q -m "not e2e"; \
	else echo "PostgreSQL not reachable at $(PG_ADMIN_URL): PostgreSQL run skipped"; fi

# The browser tests, copying their screenshots into docs/screenshots/ (a plain `make test` keeps them
# in a temporary folder, so the checkout stays clean).
screenshots: install-test
	KB_SAVE_SCREENSHOTS=1 $(BIN)/python -m pytest -q -m e2e tests/e2e

# ---- operations (docs/deploy.md, docs/benchmarks.md) -------------------------------------------
BACKUP_DIR ?= ./backups

check-deploy: install
	$(BIN)/kb check-deploy

backup: install
	$(BIN)/kb backup $(BACKUP_DIR) --keep 30

db-upgrade: install
	$(BIN)/kb db upgrade

# New schema revision from the models (developers): make db-revision REV=0005 MSG="what changed"
db-revision: install
	rm -f /tmp/kb-revision.sqlite3
	$(BIN)/python -c "from kb.db import make_engine; from kb.migrations import upgrade_database, new_revision; \
	e = make_engine('sqlite:////tmp/kb-revision.sqlite3'); upgrade_database(e); new_revision(e, '$(MSG)', '$(REV)')"

# 50 users for 5 minutes against kb serve with 2 workers (about 6 minutes in all).
load-test: install
	$(BIN)/python benchmarks/load.py --users 50 --duration 300 --workers 2

# kill -9 during imports and indexing, concurrent edits, full disk (needs root for the tmpfs).
fault-test: install
	$(BIN)/python benchmarks/faults.py all

bench-search: install
	$(BIN)/python benchmarks/search_backends.py --sizes 10000

clean:
	rm -rf $(VENV) build *.egg-info
