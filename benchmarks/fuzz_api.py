"""Long schemathesis run against a real `yakuba serve` (issue #18's closing measurement).

Starts the server over the three-document test corpus (extractive engine, small embedding model),
then runs schemathesis with an admin key over every route but transcription until `--max-time` is
spent, then transcription alone for `--transcribe-time`. Prints the requests the server counted,
the 5xx among them, and the failures schemathesis found (5xx, response schema or undocumented
status), per run. The CI version with small bounds is tests/api/test_fuzz.py.

    nice -n 10 .venv/bin/python benchmarks/fuzz_api.py --max-time 1500 --transcribe-time 120
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.api.fuzzing import TRANSCRIBE, FuzzRun, run_schemathesis  # noqa: E402
from tests.api.support import corpus_home, start_server, stop_server  # noqa: E402
from yakuba.api.keys import KeyStore  # noqa: E402


def _print(name: str, run: FuzzRun, seconds: float) -> dict:
    result = {
        "run": name,
        "seconds": round(seconds, 1),
        "requests": run.total_requests,
        "requests_per_s": round(run.total_requests / seconds, 1) if seconds else None,
        "requests_on_transcribe": sum(n for (_, route, _), n in run.requests.items() if route == TRANSCRIBE),
        "server_errors_5xx": run.server_errors,
        "schema_violations": run.schema_violations,
        "failures_all_types": run.failures(),
        "test_cases": run.test_cases,
        "schemathesis_exit_code": run.exit_code,
    }
    print(json.dumps(result, ensure_ascii=False))
    print(f"  {run.summary()}")
    if run.exit_code != 0:
        print(run.output[-4000:])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=1500, help="seconds for the run over every route but transcription")
    parser.add_argument("--transcribe-time", type=int, default=120, help="seconds for the transcription run")
    parser.add_argument("--max-examples", type=int, default=100, help="examples per operation and pass")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--only", action="append", default=[], metavar="PATH",
                        help="fuzz only these paths in the main run (e.g. to recheck a fix); repeatable")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="yakuba-fuzz-") as tmp:
        base = Path(tmp)
        home = base / "home"
        shutil.copytree(corpus_home(base / "corpus"), home)
        server = start_server(home, base / "serve.log")
        results = []
        try:
            token = KeyStore(server.settings.keys_path).create("admin", "nankoku", name="fuzz_api")[1]
            started = time.perf_counter()
            run = run_schemathesis(server.url, base / "all", token=token, counter_token=token,
                                   max_examples=args.max_examples, max_time=args.max_time,
                                   include_paths=args.only, exclude_paths=[TRANSCRIBE], workers=args.workers,
                                   seed=args.seed)
            results.append(_print("all routes but transcription (admin key)", run, time.perf_counter() - started))
            started = time.perf_counter()
            run = run_schemathesis(server.url, base / "transcribe", token=token, counter_token=token,
                                   max_examples=args.max_examples, max_time=args.transcribe_time,
                                   include_paths=[TRANSCRIBE], workers=args.workers, seed=args.seed)
            results.append(_print("transcription (admin key)", run, time.perf_counter() - started))
        finally:
            stop_server(server)
            log = (base / "serve.log").read_text(encoding="utf-8", errors="replace")
            print(f"server log: {log.count('Traceback')} tracebacks, "
                  f"{log.count('Exception in ASGI application')} 'Exception in ASGI application'")
        if args.out:
            args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0 if all(r["server_errors_5xx"] == 0 and r["failures_all_types"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
