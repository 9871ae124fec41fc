"""Play the scenario suite against the real Claude, k times each, and print pass^1 and pass^k.

    ANTHROPIC_API_KEY=... make eval            # k=3, every scenario
    python -m tests.scenarios.eval --k 5 --only won

pass^1 is the share of all runs that passed; pass^k the share of scenarios that passed in every
one of their k runs (the tau-bench measure of a planner you can rely on, not one that is right on
a good day). BACKOFFICE_MODEL picks the model; the scripted answers in the scenario files are not
used. Each run starts from its own copy of the book. Nothing here touches the owner's data.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from tests.scenarios.runner import all_scenarios, cleanup, play


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=3, help="runs per scenario (default 3)")
    parser.add_argument("--only", default="", help="only scenarios whose name contains this")
    args = parser.parse_args(argv)
    if not os.environ.get("ANTHROPIC_API_KEY"):
        print("ANTHROPIC_API_KEY is not set: there is no Claude to evaluate. (make test plays the scenarios offline.)")
        return 2
    import anthropic

    key = os.environ["ANTHROPIC_API_KEY"]
    client = anthropic.Anthropic(api_key=key, max_retries=4, timeout=120.0)
    scenarios = [s for s in all_scenarios() if args.only in s["name"]]
    model = os.environ.get("BACKOFFICE_MODEL", "the default model")
    print(f"{len(scenarios)} scenarios x {args.k} runs against {model}\n")
    results: list[tuple[str, int]] = []
    started = time.perf_counter()
    for scenario in scenarios:
        passes = 0
        for run in range(args.k):
            played = play(scenario, "claude", client=client)
            passes += played.passed
            if not played.passed:
                print(f"  {scenario['name']} run {run + 1}: " + "; ".join(played.problems)[:300])
            cleanup(played)
        results.append((scenario["name"], passes))
        print(f"{scenario['name']:62} {passes}/{args.k}  pass^1 {passes / args.k:.2f}  pass^{args.k} "
              f"{1 if passes == args.k else 0}")  # fmt: skip
    total = len(results) * args.k
    pass1 = sum(p for _, p in results) / total if total else 0.0
    passk = sum(1 for _, p in results if p == args.k) / len(results) if results else 0.0
    print(f"\noverall: pass^1 {pass1:.2f} · pass^{args.k} {passk:.2f} · {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
