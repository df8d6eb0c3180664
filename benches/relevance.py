#!/usr/bin/env python3
"""Relevance bench: nDCG@10 and MAP@100 of rsearch's search modes, each against a baseline run.

Two judged collections:
  * Cranfield (1,400 aerodynamics abstracts, 225 queries, graded judgements): turned into a corpus
    folder of one file per abstract (title line, blank line, abstract), indexed, and searched with
    every query; a document ranks where its best passage ranks.
  * the bundled article, with the judgements of benches/judgements/article.tsv (queries in other
    words, questions, exact words and phrases, typos, filtered queries), scored per passage.

Every run is compared with the baseline on the same queries: the mean paired difference and its
95% bootstrap interval (queries resampled with replacement, fixed seed). Each run's whole-process
query latency (median) is printed too.

Usage (from the repository root, after `cargo build --release`):
  python3 benches/relevance.py [--cranfield DIR] [--bin PATH] [--modes lexical,semantic,hybrid]
                               [--baseline SPEC] [--model DIR] [--only cranfield|article]
SPEC: `bm25s` (plain BM25 reference, Cranfield only; `pip install bm25s PyStemmer`), a mode of
--bin (`lexical`), or another binary with a mode (`PATH:lexical`, e.g. a build of main).
Only the Python standard library is needed, except for the bm25s reference.
"""

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from math import log2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ---------------------------------------------------------------- Cranfield


def parse_smart(path):
    """Records of a SMART-format file (`.I n`, then `.T`, `.A`, `.B`, `.W` fields) in file order."""
    records, record, field = [], None, None
    with open(path, encoding="ascii", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(".I"):
                record = {"id": line[2:].strip()}
                records.append(record)
                field = None
            elif len(line) == 2 and line[0] == "." and line[1] in "TABW":
                field = line[1]
                record[field] = []
            elif record is not None and field is not None:
                record[field].append(line)
    return records


def cranfield(data_dir):
    """Documents {id: (title, abstract paragraphs)}, queries [(qid, text)] numbered 1..225 by position (the
    `.I` numbers of cran.qry are not the numbers cranqrel uses), and judgements
    {qid: {doc: gain}} with gain 4..1 for Cleverdon's grades 1..4 (grade -1, the query's source
    paper, is dropped as usual)."""
    docs = {}
    for rec in parse_smart(os.path.join(data_dir, "cran.all.1400")):
        title = " ".join(l.strip() for l in rec.get("T", [])).strip()
        # A line indented by two spaces opens a paragraph of the abstract.
        paragraphs, current = [], []
        for line in rec.get("W", []):
            if line.startswith("  ") and current:
                paragraphs.append(" ".join(current))
                current = []
            if line.strip():
                current.append(line.strip())
        if current:
            paragraphs.append(" ".join(current))
        docs[int(rec["id"])] = (title, paragraphs)
    queries = []
    for n, rec in enumerate(parse_smart(os.path.join(data_dir, "cran.qry")), start=1):
        queries.append((n, " ".join(l.strip() for l in rec.get("W", [])).strip()))
    qrels = {}
    with open(os.path.join(data_dir, "cranqrel")) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue
            q, d, grade = int(parts[0]), int(parts[1]), int(parts[2])
            if 1 <= grade <= 4:
                qrels.setdefault(q, {})[d] = 5 - grade
    return docs, queries, qrels


def write_cranfield_corpus(docs, folder, layout):
    """One file per abstract: the title line, a blank line, then the abstract as one paragraph
    (layout `abstract`: the unit bm25s scores too, so the two rank the same things) or as its own
    paragraphs (layout `paragraphs`: rsearch makes a passage of each, and a document ranks by its
    best one). The two documents with neither title nor text are left out."""
    os.makedirs(folder, exist_ok=True)
    for doc_id, (title, paragraphs) in docs.items():
        if not title and not paragraphs:
            continue
        body = " ".join(paragraphs) if layout == "abstract" else "\n\n".join(paragraphs)
        with open(os.path.join(folder, f"{doc_id:04d}.txt"), "w") as f:
            f.write(f"{title}\n\n{body}\n")


# ---------------------------------------------------------------- article judgements


def article_judgements(path):
    """Rows of the judgement file: category, query, extra arguments, {passage ordinal: gain}."""
    rows = []
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            category, query, extra, judged = line.rstrip("\n").split("\t")
            gains = {}
            for item in judged.split():
                ordinal, gain = item.split("=")
                gains[int(ordinal)] = int(gain)
            rows.append((category, query, [] if extra == "-" else extra.split(), gains))
    return rows


# ---------------------------------------------------------------- metrics


def ndcg(ranking, gains, k=10):
    dcg = sum(gains.get(d, 0) / log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def average_precision(ranking, gains, k=100):
    relevant = {d for d, g in gains.items() if g > 0}
    if not relevant:
        return 0.0
    found, total = 0, 0.0
    for i, d in enumerate(ranking[:k]):
        if d in relevant:
            found += 1
            total += found / (i + 1)
    return total / len(relevant)


def bootstrap(diffs, rounds, seed):
    """95% percentile interval of the mean of `diffs`, resampling queries with replacement."""
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


# ---------------------------------------------------------------- engines


class Rsearch:
    """One rsearch binary in one mode, answering queries as whole processes."""

    def __init__(self, binary, mode, index, corpus, model, name=None):
        self.binary, self.mode, self.index, self.corpus, self.model = binary, mode, index, corpus, model
        self.name = name or mode
        self.latencies = []

    def build(self):
        args = [self.binary, "index", "--corpus", self.corpus, "--index", self.index]
        args += self.model_args()
        if self.model and supports(self.binary, "--vectors", "index"):
            args.append("--vectors")
        started = time.perf_counter()
        out = subprocess.run(args, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"relevance: {' '.join(args)} failed: {out.stderr.strip()}")
        return time.perf_counter() - started

    def model_args(self):
        return ["--model", self.model] if self.model and supports(self.binary, "--model") else []

    def ranking(self, query, extra, limit):
        args = [self.binary, "query", query, "--json", "--limit", str(limit), "--index", self.index, "--no-refresh"]
        if supports(self.binary, "--mode"):
            args += ["--mode", self.mode]
        args += self.model_args() + extra
        started = time.perf_counter()
        out = subprocess.run(args, capture_output=True, text=True)
        self.latencies.append(time.perf_counter() - started)
        if out.returncode == 1:
            return []
        if out.returncode != 0:
            raise RuntimeError(f"{self.name}: {out.stderr.strip()}")
        return json.loads(out.stdout)["hits"]


class Bm25s:
    """Plain BM25 (bm25s, Lucene variant, k1 1.5, b 0.75, English stop words, Snowball stemmer)
    over each abstract (which repeats its title): the reference a lexical engine should at least
    match (nDCG@10 0.365)."""

    name = "bm25s"

    def __init__(self, docs):
        import bm25s
        import Stemmer

        self.bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        self.ids = [d for d, (t, a) in docs.items() if t or a]
        corpus = [" ".join(docs[d][1]) for d in self.ids]
        tokens = bm25s.tokenize(corpus, stopwords="en", stemmer=self.stemmer, show_progress=False)
        self.retriever = bm25s.BM25()
        self.retriever.index(tokens, show_progress=False)
        self.latencies = []

    def documents(self, query, limit):
        started = time.perf_counter()
        tokens = self.bm25s.tokenize([query], stopwords="en", stemmer=self.stemmer, show_progress=False)
        found, scores = self.retriever.retrieve(tokens, k=min(limit, len(self.ids)), show_progress=False)
        self.latencies.append(time.perf_counter() - started)
        return [self.ids[i] for i, s in zip(found[0], scores[0]) if s > 0]


DEFAULT_BIN = os.path.join(ROOT, "target", "release", "rsearch")


def default_model():
    path = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
    return path if os.path.isdir(path) else None
_SUPPORT = {}


def supports(binary, flag, command="query"):
    """Does this build of rsearch know `flag`? (Lets the bench compare against older builds.)"""
    key = (binary, flag, command)
    if key not in _SUPPORT:
        out = subprocess.run([binary, command, "--help"], capture_output=True, text=True)
        _SUPPORT[key] = flag in out.stdout
    return _SUPPORT[key]


def cranfield_doc(hit):
    return int(os.path.splitext(os.path.basename(hit["source"]))[0])


def unique(items):
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


# ---------------------------------------------------------------- report


def score_runs(runs, rankings, judged, baseline, rounds, seed, title, categories=None):
    """Prints one line per run: means of both metrics, paired difference against the baseline
    with its bootstrap interval, median latency; and per-category nDCG@10 when given."""
    print(f"\n{title}")
    keys = list(judged)
    header = f"{'run':<18} {'nDCG@10':>8} {'MAP@100':>8}   {'ΔnDCG@10 vs ' + baseline + ' [95% CI]':<40} {'ΔMAP@100 [95% CI]':<28} {'median ms':>9}"
    print(header)
    per_run = {}
    for name in runs:
        nd = [ndcg(rankings[name][k], judged[k]) for k in keys]
        ap = [average_precision(rankings[name][k], judged[k]) for k in keys]
        per_run[name] = (nd, ap)
    base_nd, base_ap = per_run[baseline]
    for name in runs:
        nd, ap = per_run[name]
        cells = []
        for mine, theirs in ((nd, base_nd), (ap, base_ap)):
            diffs = [a - b for a, b in zip(mine, theirs)]
            low, high = bootstrap(diffs, rounds, seed)
            cells.append(f"{statistics.mean(diffs):+.3f} [{low:+.3f}, {high:+.3f}]")
        latency = runs[name]
        ms = f"{1000 * statistics.median(latency):.1f}" if latency else "-"
        print(f"{name:<18} {statistics.mean(nd):>8.3f} {statistics.mean(ap):>8.3f}   {cells[0]:<40} {cells[1]:<28} {ms:>9}")
    if categories:
        names = sorted(set(categories.values()))
        print(f"\n{'nDCG@10 by kind':<18} " + " ".join(f"{c:>11}" for c in names))
        for name in runs:
            nd = per_run[name][0]
            means = []
            for c in names:
                values = [v for k, v in zip(keys, nd) if categories[k] == c]
                means.append(f"{statistics.mean(values):>11.3f}")
            print(f"{name:<18} " + " ".join(means))
        print(f"{'queries':<18} " + " ".join(f"{sum(1 for k in keys if categories[k] == c):>11}" for c in names))
    return per_run


def engines_for(args, index, corpus):
    """The runs asked for: each mode of --bin, plus the baseline when it is another binary."""
    modes = [m for m in args.modes.split(",") if m]
    runs = [Rsearch(args.bin, m, index, corpus, args.model) for m in modes]
    baseline = args.baseline
    if ":" in baseline:
        path, mode = baseline.rsplit(":", 1)
        other = Rsearch(os.path.abspath(path), mode, index + "-baseline", corpus, args.model, f"base:{mode}")
        runs.append(other)
        baseline = other.name
    return runs, baseline


def usable(engine):
    """A mode that needs the model is left out (with a note) when the build or model lacks it."""
    if engine.mode != "lexical" and not supports(engine.binary, "--mode"):
        print(f"relevance: leaving out {engine.name}: this build has no --mode", file=sys.stderr)
        return False
    try:
        engine.ranking("probe", [], 1)
        engine.latencies.clear()
        return True
    except RuntimeError as e:
        print(f"relevance: leaving out {engine.name}: {e}", file=sys.stderr)
        return False


def run_cranfield(args, work):
    docs, queries, qrels = cranfield(args.cranfield)
    corpus = os.path.join(work, "cranfield-corpus")
    write_cranfield_corpus(docs, corpus, args.layout)
    index = os.path.join(work, "cranfield-index")
    engines, baseline = engines_for(args, index, corpus)
    built = set()
    for e in engines:
        if e.index not in built:
            seconds = e.build()
            built.add(e.index)
            print(f"indexed Cranfield with {e.binary} in {seconds:.1f} s", file=sys.stderr)
    engines = [e for e in engines if usable(e)]
    judged = {q: qrels.get(q, {}) for q, _ in queries if qrels.get(q)}
    rankings, latencies = {}, {}
    if args.baseline == "bm25s" or args.bm25s:
        ref = Bm25s(docs)
        rankings[ref.name] = {q: ref.documents(text, 100) for q, text in queries}
        latencies[ref.name] = []
    for e in engines:
        rankings[e.name] = {q: unique(cranfield_doc(h) for h in e.ranking(text, [], args.passages))[:100] for q, text in queries}
        latencies[e.name] = e.latencies
    if baseline not in rankings:
        sys.exit(f"relevance: baseline {baseline} did not run")
    score_runs(latencies, rankings, judged, baseline, args.rounds, args.seed,
               f"Cranfield: {len(judged)} queries, {len(docs)} documents, layout {args.layout}")


def run_article(args, work):
    rows = article_judgements(args.judgements)
    corpus = os.path.join(work, "article-corpus")
    shutil.copytree(os.path.join(ROOT, "corpus"), corpus, dirs_exist_ok=True)
    index = os.path.join(work, "article-index")
    baseline_spec = args.baseline if args.baseline != "bm25s" else "lexical"
    saved, args.baseline = args.baseline, baseline_spec
    engines, baseline = engines_for(args, index, corpus)
    args.baseline = saved
    built = set()
    for e in engines:
        if e.index not in built:
            e.build()
            built.add(e.index)
    engines = [e for e in engines if usable(e)]
    judged = {i: gains for i, (_, _, _, gains) in enumerate(rows)}
    categories = {i: cat for i, (cat, _, _, _) in enumerate(rows)}
    rankings, latencies = {}, {}
    for e in engines:
        ranks = {}
        for i, (_, query, extra, _) in enumerate(rows):
            ranks[i] = [h["ordinal"] for h in e.ranking(query, extra, 10)]
        # Latency: every query again, 5 rounds, now that the files are in the page cache.
        e.latencies.clear()
        for _ in range(5):
            for _, query, extra, _ in rows:
                e.ranking(query, extra, 10)
        rankings[e.name] = ranks
        latencies[e.name] = e.latencies
    if baseline not in rankings:
        sys.exit(f"relevance: baseline {baseline} did not run")
    score_runs(latencies, rankings, judged, baseline, args.rounds, args.seed,
               f"Article: {len(rows)} judged queries ({args.judgements})", categories)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cranfield", default=os.path.join(ROOT, "..", "shared", "bench-data", "cranfield"))
    p.add_argument("--judgements", default=os.path.join(HERE, "judgements", "article.tsv"))
    p.add_argument("--bin", default=DEFAULT_BIN)
    p.add_argument("--modes", default="lexical,semantic,hybrid")
    p.add_argument("--baseline", default="lexical")
    p.add_argument("--bm25s", action="store_true", help="also run the bm25s reference on Cranfield")
    p.add_argument("--model", default=os.environ.get("RSEARCH_MODEL") or default_model(),
                   help="embedding model folder (default: $RSEARCH_MODEL, else models/all-MiniLM-L6-v2)")
    p.add_argument("--layout", choices=["abstract", "paragraphs"], default="abstract",
                   help="Cranfield files: each abstract one paragraph, or its own paragraphs")
    p.add_argument("--only", choices=["cranfield", "article"])
    p.add_argument("--passages", type=int, default=300, help="passages asked for per Cranfield query")
    p.add_argument("--rounds", type=int, default=10000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", help="work folder to keep (default: a temporary one)")
    args = p.parse_args()
    args.bin = os.path.abspath(args.bin)
    if not os.path.exists(args.bin):
        sys.exit(f"relevance: no binary at {args.bin}; run `cargo build --release` first")
    if args.keep:
        if os.path.exists(args.keep):
            shutil.rmtree(args.keep)
        os.makedirs(args.keep)
    work = args.keep or tempfile.mkdtemp(prefix="rsearch-relevance-")
    try:
        if args.only in (None, "article"):
            run_article(args, work)
        if args.only in (None, "cranfield"):
            if not os.path.isdir(args.cranfield):
                sys.exit(f"relevance: no Cranfield data at {args.cranfield} (--cranfield DIR)")
            run_cranfield(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
