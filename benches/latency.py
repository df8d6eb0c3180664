#!/usr/bin/env python3
"""Whole-process query latency of rsearch by search mode, measured in one sitting.

Builds an index of a corpus (the bundled article by default) with passage vectors, then runs
every query of a query list as a separate `rsearch query` process in each mode, interleaving
the modes query by query so that a change of load on the machine touches all of them alike,
and prints the median per mode and its ratio to the lexical median of the same run.

    cargo build --release
    python3 benches/latency.py                          # the article, its 40 judged queries
    python3 benches/latency.py --rounds 5 --binary other/rsearch --binary target/release/rsearch
    python3 benches/latency.py --corpus /tmp/foldoc --queries my-queries.txt

Python standard library only. Each binary gets its own index (in a temporary folder); the
model is `models/all-MiniLM-L6-v2` unless `--model` names another folder.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODES = ["lexical", "hybrid", "semantic"]


def article_queries():
    """The queries of benches/judgements/article.tsv (with their filters)."""
    queries = []
    with open(os.path.join(ROOT, "benches", "judgements", "article.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            kind, query, extra, _ = line.rstrip("\n").split("\t")
            queries.append((query, [] if extra == "-" else extra.split()))
    return queries


def file_queries(path):
    """One query a line; blank lines and lines starting with # are skipped."""
    with open(path, encoding="utf-8") as f:
        return [(line.strip(), []) for line in f if line.strip() and not line.startswith("#")]


def run(args, what):
    started = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if out.returncode not in (0, 1):
        sys.exit(f"latency: {what} failed: {' '.join(args)}\n{out.stderr.strip()}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", action="append", help="rsearch to measure (repeatable; default target/release/rsearch)")
    parser.add_argument("--corpus", default=os.path.join(ROOT, "corpus"))
    parser.add_argument("--queries", help="file of queries, one a line (default: the article's judged queries)")
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    parser.add_argument("--rounds", type=int, default=5, help="times each query is run in each mode")
    parser.add_argument("--modes", default="lexical,hybrid,semantic")
    parser.add_argument("--index", help="use this index (already built, with vectors) instead of building one")
    parser.add_argument("--limit", type=int, default=10)
    options = parser.parse_args()
    binaries = options.binary or [os.path.join(ROOT, "target", "release", "rsearch")]
    modes = [m for m in options.modes.split(",") if m]
    queries = file_queries(options.queries) if options.queries else article_queries()
    scratch = tempfile.mkdtemp(prefix="rsearch-latency-")
    try:
        indexes = {}
        for n, binary in enumerate(binaries):
            if options.index:
                indexes[binary] = options.index
                continue
            index = os.path.join(scratch, f"index-{n}")
            seconds = run(
                [binary, "index", "--corpus", options.corpus, "--index", index, "--model", options.model, "--vectors"],
                "building the index",
            )
            print(f"{binary}: index with vectors built in {seconds:.1f} s", file=sys.stderr)
            indexes[binary] = index
        times = {(b, m): [] for b in binaries for m in modes}
        for _ in range(options.rounds):
            for query, extra in queries:
                for binary in binaries:
                    for mode in modes:
                        args = [binary, "query", query, "--json", "--limit", str(options.limit)]
                        args += ["--index", indexes[binary], "--no-refresh", "--model", options.model]
                        args += ["--mode", mode] + extra
                        times[(binary, mode)].append(run(args, f"query {query!r}"))
        print(f"{len(queries)} queries x {options.rounds} rounds, whole process, median ms")
        print(f"{'binary':<50} {'mode':<9} {'median':>8} {'p90':>8} {'x lexical':>10}")
        for binary in binaries:
            lexical = statistics.median(times[(binary, "lexical")]) if "lexical" in modes else None
            for mode in modes:
                runs = sorted(times[(binary, mode)])
                median = statistics.median(runs)
                p90 = runs[int(0.9 * (len(runs) - 1))]
                ratio = f"{median / lexical:.2f}" if lexical else "-"
                name = binary if len(binary) < 50 else "…" + binary[-48:]
                print(f"{name:<50} {mode:<9} {1000 * median:8.1f} {1000 * p90:8.1f} {ratio:>10}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
