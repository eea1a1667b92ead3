"""Survey analysis speed and theme quality on the real Toyama file (corpora/surveys/toyama-kanko).

    .venv/bin/python benchmarks/survey_speed.py [--rows 20000] [--by 年代 --by 性別] [--skip-large]

1. The whole Toyama analysis — all 52 columns, cross tables by the chosen attributes, free-text themes,
   charts and the four report files — in one process from a cold start (target ≤ 60 s on 2 cores).
2. The same on N rows resampled from Toyama with replacement (seed 0; target ≤ 3 min for 20,000).
3. Themes: per free-text column the number of themes, coverage (share of the themed answers in a named
   theme, not その他), the 「特になし」 count, and each theme's label, size and first quote.

Run it on a quiet machine: the 1-minute load average is printed because other processes on 2 cores
inflate every number.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from yakuba.assistant.surveys import SurveySettings, analyze  # noqa: E402

TOYAMA = ROOT / "corpora" / "surveys" / "toyama-kanko" / "toyama.csv"


def resampled(rows: int, seed: int = 0) -> bytes:
    """`rows` answers drawn with replacement from Toyama's (test rows excluded), as UTF-8 CSV."""
    text = TOYAMA.read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text, newline="")))
    header, body = table[0], table[4:]
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rng.choice(body) for _ in range(rows))
    return out.getvalue().encode("utf-8")


def run(data: bytes, name: str, settings: SurveySettings) -> tuple[float, object]:
    start = time.perf_counter()
    result = analyze(data, name, settings)
    with tempfile.TemporaryDirectory() as folder:
        result.write(Path(folder))
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--by", action="append", default=None)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    by = args.by or ["年代", "性別"]
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    seconds, result = run(TOYAMA.read_bytes(), TOYAMA.name, SurveySettings(by=by, exclude_rows=[1, 2, 3]))
    a = result.analysis
    print(f"\n## Toyama: {a.overview.respondents} respondents × {a.overview.columns} columns, by {by}")
    print(f"total {seconds:.1f} s (target ≤ 60 s); steps {a.seconds}; report files included")
    print(f"{len(a.tables)} tables, {len(a.crosses)} cross tables, {len(result.charts)} charts, "
          f"{sum(len(s.themes) for s in a.themes)} themes in {len(a.themes)} free-text columns")

    print("\n## Free-text themes")
    print("| column | answers | 特になし等 | themes | coverage % |")
    print("|---|---:|---:|---:|---:|")
    for s in a.themes:
        print(f"| {s.question} | {s.answers} | {s.nothing} | {len(s.themes)} | {s.coverage} |")
    for s in a.themes:
        print(f"\n### {s.question}")
        print("| theme | count | share % | first quote (row) |")
        print("|---|---:|---:|---|")
        for t in s.themes:
            quote = t.quotes[0] if t.quotes else None
            sample = f"{quote.text[:50]}（{quote.row_id}）" if quote else ""
            print(f"| {t.label} | {t.count} | {t.share} | {sample} |")

    if not args.skip_large:
        data = resampled(args.rows)
        seconds, result = run(data, f"toyama-resampled-{args.rows}.csv", SurveySettings(by=by))
        print(f"\n## {args.rows:,} resampled rows ({len(data) / 1e6:.1f} MB)")
        print(f"total {seconds:.1f} s (target ≤ 180 s); steps {result.analysis.seconds}")
    print(f"\nload average (1 min) at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
