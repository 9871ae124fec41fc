"""Start-up benchmark: `backoffice --help` against bare Python, same interpreter, same run.

    python bench/startup_bench.py [--runs 30]

Times whole processes (start, import, print, exit): `python -c pass` as the baseline, then
`python -m backoffice --help` and `python -m backoffice pipline` (a typo, answered with a
suggestion). Both must stay close to the baseline: neither imports a command module, rich or
pydantic. Also counts the modules each imports (python -X importtime).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CASES = {
    "python -c pass": ["-c", "pass"],
    "backoffice --help": ["-m", "backoffice", "--help"],
    "backoffice pipline": ["-m", "backoffice", "pipline"],
}


def timed(args: list[str], runs: int, cwd: str) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def modules(args: list[str], cwd: str) -> int:
    err = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=cwd, capture_output=True, text=True).stderr
    return sum(1 for line in err.splitlines() if line.startswith("import time:") and "cumulative" not in line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as cwd:  # not the checkout: the installed package is measured
        os.environ["BACKOFFICE_DATA_DIR"] = os.path.join(cwd, "book")
        for args in CASES.values():
            timed(args, 2, cwd)  # warm the file cache
        results = {name: timed(args, runs, cwd) for name, args in CASES.items()}
        baseline = statistics.median(results["python -c pass"])
        print(f"{runs} runs each, median (min–max); {sys.executable}")
        for name, times in results.items():
            median = statistics.median(times)
            print(
                f"  {name:<20} {median * 1000:6.1f} ms ({min(times) * 1000:.1f}–{max(times) * 1000:.1f})"
                f"  x{median / baseline:.2f} of bare python, {modules(CASES[name], cwd)} modules"
            )


if __name__ == "__main__":
    main()
