"""pytest plugin (registered in pyproject): no log line of the whole suite may leak a secret.

A handler on the root logger renders every emitted record exactly as the production JSON
formatter would, and looks for JWTs, password values and refresh tokens. Only log output is
scanned, never test output or assertion messages. Any finding fails the session and is listed
in the terminal summary (with the test that produced it).
"""

import logging
import re

import pytest

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}")
KEYED_VALUE = re.compile(
    r"""["']?\b(?P<key>password|passwd|refresh|refresh_token)\b["']?\s*[:=]\s*"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s,}&]+)""",
    re.IGNORECASE,
)
HARMLESS_VALUES = {"", "null", "none", "[masked]", "true", "false"}


def find_secrets(line: str) -> list[str]:
    found = [f"jwt {m.group(0)[:12]}..." for m in JWT.finditer(line)]
    for match in KEYED_VALUE.finditer(line):
        value = match.group("value").strip("\"'")
        if value.lower() not in HARMLESS_VALUES:
            found.append(f"{match.group('key')} value")
    return found


class SecretScanHandler(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        from platform_site.settings.logging import json_formatter

        self.setFormatter(json_formatter())
        self.current_test = "(outside a test)"
        self.findings: list[tuple[str, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            line = record.getMessage()
        for finding in find_secrets(line):
            self.findings.append((self.current_test, finding, line[:300]))


_handler: SecretScanHandler | None = None


def _ensure_attached() -> None:
    root = logging.getLogger()
    if _handler is not None and _handler not in root.handlers:
        root.addHandler(_handler)


def pytest_configure(config):
    global _handler
    _handler = SecretScanHandler()
    _ensure_attached()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # A test may reconfigure logging (dictConfig drops root handlers): attach again.
    _ensure_attached()
    if _handler is not None:
        _handler.current_test = item.nodeid


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A test whose log leaked a secret fails at its teardown, with the lines: a report is
    what reaches the terminal from a pytest-xdist worker as well."""
    report = yield
    if call.when == "teardown" and _handler is not None and report.passed:
        found = [f for f in _handler.findings if f[0] == item.nodeid]
        if found:
            report.outcome = "failed"
            report.longrepr = "secrets found in log output:\n" + "\n".join(
                f"{finding}: {line}" for _, finding, line in found[:20]
            )
    return report


def pytest_sessionfinish(session, exitstatus):
    if _handler is not None and _handler.findings and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _handler is None or not _handler.findings:
        return
    terminalreporter.section("secrets found in log output", sep="=", red=True)
    for test, finding, line in _handler.findings[:50]:
        terminalreporter.write_line(f"{test}: {finding}: {line}")
