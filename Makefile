# Two commands: `make run` serves the platform, `make test` runs the whole suite.
# Both install what they need (system packages via apt when missing, Python packages in .venv).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test ci lint system-deps install bench-sessions bench-observability bench-data

run: install
	$(BIN)/python scripts/devstack.py run

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

install: system-deps $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip check
	touch $@

# PostgreSQL, Redis, the venv module and Chromium (Studio browser tests) from Debian when missing.
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	ls /usr/sbin/pgbouncer >/dev/null 2>&1 || missing="$$missing pgbouncer"; \
	command -v runuser >/dev/null 2>&1 || missing="$$missing util-linux"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
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
