"""Schemathesis against a real `yakuba serve`: shared by tests/api/test_fuzz.py (bounded CI runs) and
benchmarks/fuzz_api.py (the long measured run).

Schemathesis generates requests from /openapi.json and checks every response: no 5xx
(`not_a_server_error`), bodies and statuses as documented (`response_schema_conformance`,
`status_code_conformance`). Requests are counted on the server (its Prometheus counters), so the
numbers cover every request schemathesis sent, whatever phase sent it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"
TRANSCRIBE = "/v1/transcribe"
# Routes anyone may call: everything else must answer 401 without a key.
PUBLIC_ROUTES = frozenset({"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
_SAMPLE = re.compile(r'^yakuba_http_requests_total\{method="([^"]*)",route="([^"]*)",status="(\d+)"\} ([0-9.e+]+)$')


@dataclass
class FuzzRun:
    """One schemathesis run: its exit code and report, and what the server counted meanwhile."""

    exit_code: int
    report: dict
    output: str
    requests: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # (method, route, status) → count

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def server_errors(self) -> int:
        return sum(n for (_, _, status), n in self.requests.items() if status >= 500)

    def failures(self, *types: str) -> int:
        """Unique failures schemathesis found (all types, or those named: ServerError, JsonSchemaError, …)."""
        return sum(f["count"] for f in self.report.get("failures", []) if not types or f["type"] in types)

    @property
    def schema_violations(self) -> int:
        return sum(f["count"] for f in self.report.get("failures", []) if f["type"] != "ServerError")

    @property
    def test_cases(self) -> int:
        return int(self.report.get("test_cases", {}).get("generated", 0))

    def summary(self) -> str:
        by_status = Counter()
        for (_, _, status), n in self.requests.items():
            by_status[status] += n
        failures = ", ".join(f"{f['type']}×{f['count']} {f['operations']}" for f in self.report.get("failures", []))
        return (
            f"exit {self.exit_code}; {self.test_cases} test cases; {self.total_requests} requests on the server "
            f"{dict(sorted(by_status.items()))}; 5xx {self.server_errors}; failures: {failures or 'none'}"
        )


def request_counts(url: str, token: str) -> Counter[tuple[str, str, int]]:
    """The server's request counter: (method, route template, status) → requests so far."""
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    response.raise_for_status()
    counts: Counter[tuple[str, str, int]] = Counter()
    for line in response.text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            method, route, status, value = match.groups()
            counts[(method, route, int(status))] += int(float(value))
    return counts


def run_schemathesis(
    url: str,
    report_dir: Path,
    *,
    token: str | None,
    counter_token: str,
    max_examples: int,
    max_time: int,
    include_paths: list[str] = (),  # type: ignore[assignment]
    exclude_paths: list[str] = (),  # type: ignore[assignment]
    workers: int = 2,
    seed: int = 18,
    request_timeout: float = 120.0,
) -> FuzzRun:
    """`schemathesis run` against the server's /openapi.json; `max_time` caps the whole run (the
    fuzzing and stateful phases repeat with new data until it is spent), `max_examples` bounds each
    operation per pass. `counter_token` reads /metrics before and after, to count what was sent."""
    report_dir.mkdir(parents=True, exist_ok=True)
    before = request_counts(url, counter_token)
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
        "--checks", CHECKS, "--max-examples", str(max_examples), "--max-time", str(max_time),
        "--workers", str(workers), "--seed", str(seed), "--no-shrink", "--request-timeout", str(request_timeout),
        "--suppress-health-check", "all", "--report", "json", "--report-dir", str(report_dir),
        "--report-json-path", str(report_dir / "report.json"), "--output-truncate", "true",
    ]
    if token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    for path in include_paths:
        command += ["--include-path", path]
    for path in exclude_paths:
        command += ["--exclude-path", path]
    # run in the report folder: schemathesis keeps a cache folder (.schemathesis/) in its working directory
    done = subprocess.run(command, capture_output=True, text=True, timeout=max_time + 300, cwd=report_dir)
    after = request_counts(url, counter_token)
    sent = after - before
    sent[("GET", "/metrics", 200)] -= 1  # our own read before the run
    sent += Counter()  # drop zero and negative entries
    report_path = report_dir / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    return FuzzRun(exit_code=done.returncode, report=report, output=done.stdout[-20000:] + done.stderr[-5000:],
                   requests=sent)
