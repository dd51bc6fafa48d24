# Two commands: `make run` serves the platform, `make test` runs the whole suite.
# Both install what they need (system packages via apt when missing, Python packages in .venv).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test ci lint system-deps install bench-sessions bench-observability bench-data \
	bench-peer bench-peer-tools bench-functions cluster bench-cluster

run: install
	$(BIN)/python scripts/devstack.py run

# N app instances behind nginx, PgBouncer, a PostgreSQL primary + standby, Redis Sentinel,
# Celery (README, Scale-out): `make cluster ARGS="up --instances 4"`, `ARGS=status`, `ARGS=down`.
cluster: install
	$(BIN)/python scripts/cluster.py $(or $(ARGS),up)

test: install
	$(BIN)/python scripts/devstack.py test -- $(ARGS)

# Session-validation latency (cache hit / miss / breaker open) on throwaway servers.
bench-sessions: install
	$(BIN)/python scripts/devstack.py bench bench/session_validation.py $(ARGS)

# Throughput with logging + metrics + tracing on vs off (see README, Observability).
bench-observability: install
	$(BIN)/python bench/observability.py

# Data API throughput and latency, with and without RLS (results table in the README).
bench-data: install
	$(BIN)/python scripts/devstack.py bench bench/data_api.py $(ARGS)

# Functions: cold start, warm p50/p99 and invocations/s of hello-world (README, Functions).
bench-functions: install
	$(BIN)/python scripts/devstack.py bench bench/functions.py $(ARGS)

# Throughput at 1, 2 and 4 app instances behind nginx (README, Scale-out); wrk from apt.
bench-cluster: install
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(BIN)/python bench/cluster.py $(ARGS)

# Throughput next to Parse Server: same PostgreSQL, Redis, data and wrk load (README, Benchmarks).
bench-peer: install bench-peer-tools bench/peer/node_modules/.package-lock.json
	$(BIN)/python bench/peer/run.py $(ARGS)

# wrk, and Node.js when missing (Parse Server 9.10 needs Node.js 20.19 or newer), from apt.
bench-peer-tools:
	@missing=""; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(+(a < 20 || (a === 20 && b < 19)))' \
	  || { echo "Parse Server 9.10 needs Node.js >= 20.19, found $$(node --version)"; exit 1; }

# Parse Server exactly as the lock file has it.
bench/peer/node_modules/.package-lock.json: bench/peer/package-lock.json | bench-peer-tools
	cd bench/peer && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# What CI runs besides the tests: deploy checks, migrations in sync, lint.
ci: install
	SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	DATABASE_URL=postgres://owner:x@127.0.0.1:5432/platform DATABASE_APP_PASSWORD=x \
	$(BIN)/python manage.py check --deploy --fail-level WARNING \
	    --settings=platform_site.settings.production
	$(BIN)/python scripts/devstack.py exec -- $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

install: system-deps $(VENV)/.installed functions/runtime/node_modules/.package-lock.json \
	node_modules/.package-lock.json

# The client SDK the Supabase-compatible API is tested with (tests/compat/js), as locked.
node_modules/.package-lock.json: package-lock.json | system-deps
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The pinned Deno that runs tenants' functions (npm package `deno`; the binary ships inside
# @deno/linux-x64-glibc), exactly as the lock file has it; again only when the lock changes.
functions/runtime/node_modules/.package-lock.json: functions/runtime/package-lock.json | system-deps
	cd functions/runtime && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip check
	touch $@

# PostgreSQL, Redis, PgBouncer, nginx (the public port of `make run`), the venv module,
# Chromium (Studio browser tests), bubblewrap (the functions' sandbox) and npm (to install
# Deno) from Debian when missing.
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	ls /usr/sbin/pgbouncer >/dev/null 2>&1 || missing="$$missing pgbouncer"; \
	ls /usr/sbin/nginx >/dev/null 2>&1 || missing="$$missing nginx"; \
	command -v runuser >/dev/null 2>&1 || missing="$$missing util-linux"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# Benchmarks (they start throwaway servers unless DATABASE_URL / REDIS_URL are set).
.PHONY: bench-realtime bench-hotkeys
bench-realtime: install
	DJANGO_SETTINGS_MODULE=platform_site.settings.test $(BIN)/python bench/realtime.py $(ARGS)

bench-hotkeys: install
	DJANGO_SETTINGS_MODULE=platform_site.settings.test $(BIN)/python bench/hotkeys.py $(ARGS)
