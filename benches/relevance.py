#!/usr/bin/env python3
"""Relevance bench: nDCG@10 and MAP@100 of rsearch's search modes, each against a baseline run.

Two judged collections:
  * Cranfield (1,400 aerodynamics abstracts, 225 queries, graded judgements): turned into a corpus
    folder of one file per abstract (title line, blank line, abstract), indexed, and searched with
    every query; a document ranks where its best passage ranks.
  * judged articles: every `benches/judgements/*.tsv` (or the files given with --judgements), each
    with queries of five kinds (other words, questions, exact words and phrases, typos, filtered)
    scored per passage on the corpus folder its `# corpus: DIR` line names (default: corpus/).
    `article.tsv` judges the bundled article; the others judge the articles of
    tests/fixtures/devset/ and benches/judgements/articles/, written without looking at
    rsearch's results: a held-out check that a
    ranking change is not fitted to the bundled article. Each set is reported per kind and
    overall, and the held-out sets pooled, each figure with its bootstrap interval.

Every run is compared with the baseline on the same queries: the mean paired difference and its
95% bootstrap interval (queries resampled with replacement, fixed seed). Each run's whole-process
query latency (median) is printed too.

Usage (from the repository root, after `cargo build --release`):
  python3 benches/relevance.py [--cranfield DIR] [--bin PATH] [--modes lexical,semantic,hybrid]
                               [--baseline SPEC] [--model DIR] [--only cranfield|article]
                               [--judgements FILE ...] [--per-query] [--study]
--study compares fusion rules offline on the lexical and semantic rankings (with their scores).
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
        path, text = os.path.join(folder, f"{doc_id:04d}.txt"), f"{title}\n\n{body}\n"
        # A file kept from an earlier run (--keep) is left as it is, so the index needs no update.
        if os.path.exists(path) and open(path).read() == text:
            continue
        with open(path, "w") as f:
            f.write(text)


# ---------------------------------------------------------------- article judgements


def article_judgements(path):
    """Rows of the judgement file: category, query, extra arguments, {passage ordinal: gain}."""
    return judgement_set(path)[1]


def judgement_set(path):
    """The corpus folder a judgement file names (`# corpus: DIR`, relative to the repository;
    default `corpus`) and its rows: category, query, extra arguments, {passage ordinal: gain}."""
    rows, corpus = [], os.path.join(ROOT, "corpus")
    with open(path) as f:
        for line in f:
            if line.startswith("# corpus:"):
                corpus = os.path.join(ROOT, line.split(":", 1)[1].strip())
                continue
            if not line.strip() or line.startswith("#"):
                continue
            category, query, extra, judged = line.rstrip("\n").split("\t")
            gains = {}
            for item in judged.split():
                ordinal, gain = item.split("=")
                gains[int(ordinal)] = int(gain)
            rows.append((category, query, [] if extra == "-" else extra.split(), gains))
    return corpus, rows


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

    def total(self, query):
        """How many passages the query matches (0 when it has no indexed term)."""
        args = [self.binary, "query", query, "--json", "--limit", "1", "--index", self.index, "--no-refresh"]
        if supports(self.binary, "--mode"):
            args += ["--mode", "lexical"]
        out = subprocess.run(args, capture_output=True, text=True)
        return json.loads(out.stdout)["total_hits"] if out.returncode == 0 else 0

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
    raw = {}
    for e in engines:
        raw[e.name] = {q: e.ranking(text, [], args.passages) for q, text in queries}
        rankings[e.name] = {q: unique(cranfield_doc(h) for h in raw[e.name][q])[:100] for q, _ in queries}
        latencies[e.name] = e.latencies
    if baseline not in rankings:
        sys.exit(f"relevance: baseline {baseline} did not run")
    score_runs(latencies, rankings, judged, baseline, args.rounds, args.seed,
               f"Cranfield: {len(judged)} queries, {len(docs)} documents, layout {args.layout}")
    if args.study and "lexical" in raw and "semantic" in raw:
        lexical = next(e for e in engines if e.mode == "lexical")
        coverage = {q: word_coverage(lexical, text) for q, text in queries}
        items = []
        for q, text in queries:
            if q not in judged:
                continue
            pairs = [[(h["id"], h["score"]) for h in raw[m][q]][:args.candidates]
                     for m in ("lexical", "semantic")]
            items.append(("cranfield", (is_question(text), coverage[q]), pairs[0], pairs[1], judged[q]))
        # Passages are fused; a document ranks where its best passage does.
        rules = {name: (lambda l, s, q, rule=rule: unique(cranfield_doc({"source": k.rsplit(":", 1)[0]})
                                                         for k in rule(l, s, q)))
                 for name, rule in study_rules().items()}
        study_table("Cranfield", items, rules, args.rounds, args.seed)


def is_question(query):
    """A question by its form: a question mark at the end or a question word first."""
    words = query.lower().split()
    return query.rstrip().endswith("?") or bool(words) and words[0].strip("\"'(") in QUESTION_WORDS


QUESTION_WORDS = {"who", "whom", "whose", "what", "which", "when", "where", "why", "how", "do", "does",
                  "did", "is", "are", "can", "could", "should", "would"}


def judged_sets(args):
    """The judgement files to score: those given, else every .tsv of benches/judgements."""
    if args.judgements:
        return [os.path.abspath(p) for p in args.judgements]
    folder = os.path.join(HERE, "judgements")
    names = sorted(n for n in os.listdir(folder) if n.endswith(".tsv"))
    # The bundled article first: the set the README's figures start from.
    names.sort(key=lambda n: n != "article.tsv")
    return [os.path.join(folder, n) for n in names]


def set_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def run_set(args, work, path):
    """Indexes the set's corpus, runs every query in every mode; returns the set's scores:
    {run: [(kind, nDCG@10, AP@100)]} per query in file order, plus the rows, the hits each
    mode gave (for --study) and the latencies."""
    corpus_dir, rows = judgement_set(path)
    name = set_name(path)
    corpus = os.path.join(work, f"{name}-corpus")
    shutil.copytree(corpus_dir, corpus, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.outline"))
    index = os.path.join(work, f"{name}-index")
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
    hits, latencies = {}, {}
    for e in engines:
        hits[e.name] = [e.ranking(query, extra, args.depth) for _, query, extra, _ in rows]
        e.latencies.clear()
        # Latency of the bundled article's queries, now that the files are in the page cache.
        for _ in range(args.latency_rounds if name == "article" else 0):
            for _, query, extra, _ in rows:
                e.ranking(query, extra, 10)
        latencies[e.name] = e.latencies
    if baseline not in hits:
        sys.exit(f"relevance: baseline {baseline} did not run")
    coverage = []
    if args.study:
        lexical = next(e for e in engines if e.mode == "lexical")
        coverage = [word_coverage(lexical, query) for _, query, _, _ in rows]
    return {"name": name, "rows": rows, "hits": hits, "latencies": latencies, "baseline": baseline,
            "coverage": coverage}


STOP_WORDS = set("a an and are as at be but by for if in into is it no not of on or such that the their "
                 "then there these they this to was will with".split())


def query_words(query):
    """The words of a query the words side searches: no stop words, no question words in a
    question, no quotes or punctuation around them."""
    words = [w.strip("\"'?!.,;:()").lower() for w in query.split()]
    question = is_question(query)
    return [w for w in words if w and w not in STOP_WORDS and not (question and w in QUESTION_WORDS)]


def word_coverage(engine, query):
    """Share of the query's words that match some passage (as typed, by a typo or a synonym)."""
    words = query_words(query)
    if not words:
        return 1.0
    return sum(1 for w in words if engine.total(w) > 0) / len(words)


def ordinals(hits):
    return [h["ordinal"] for h in hits]


def per_query(rows, rankings):
    """[(kind, nDCG@10, AP@100)] of one run's rankings, one a query."""
    return [(kind, ndcg(r, gains), average_precision(r, gains))
            for (kind, _, _, gains), r in zip(rows, rankings)]


def interval(values, rounds, seed):
    low, high = bootstrap(values, rounds, seed)
    return f"{statistics.mean(values):.3f} [{low:.3f}, {high:.3f}]"


def difference(mine, theirs, rounds, seed):
    diffs = [a - b for a, b in zip(mine, theirs)]
    low, high = bootstrap(diffs, rounds, seed)
    return f"{statistics.mean(diffs):+.3f} [{low:+.3f}, {high:+.3f}]"


def report_kinds(title, scores, baseline, rounds, seed):
    """nDCG@10 by kind and overall for each run, with its 95% bootstrap interval, then each run's
    paired difference from the baseline by kind. `scores`: {run: [(kind, nDCG@10, AP@100)]}."""
    first = next(iter(scores.values()))
    kinds = sorted({k for k, _, _ in first}, key=KIND_ORDER.index if all(k in KIND_ORDER for k, _, _ in first) else None)
    columns = kinds + ["all"]
    counts = {c: sum(1 for k, _, _ in first if c in (k, "all")) for c in columns}
    print(f"\n{title}: nDCG@10 by kind [95% CI]")
    print(f"{'run':<12} " + " ".join(f"{c + ' (' + str(counts[c]) + ')':>22}" for c in columns))

    def values(run, column):
        return [nd for k, nd, _ in scores[run] if column in (k, "all")]

    for run in scores:
        print(f"{run:<12} " + " ".join(f"{interval(values(run, c), rounds, seed):>22}" for c in columns))
    print(f"{'Δ vs ' + baseline:<12}")
    for run in scores:
        if run == baseline:
            continue
        print(f"{run:<12} " + " ".join(f"{difference(values(run, c), values(baseline, c), rounds, seed):>22}" for c in columns))
    ap = {run: statistics.mean(a for _, _, a in scores[run]) for run in scores}
    print("MAP@100: " + ", ".join(f"{run} {v:.3f}" for run, v in ap.items()))


KIND_ORDER = ["other-words", "question", "exact", "typo", "filtered", "all"]


def print_per_query(result):
    """Each query with the rank (1-based, '-' beyond the depth) of its best-judged passages in
    every run, and its nDCG@10 in every run."""
    runs = list(result["hits"])
    print(f"\n{result['name']}: rank of the passages judged 2 / nDCG@10 per run ({', '.join(runs)})")
    for i, (kind, query, extra, gains) in enumerate(result["rows"]):
        best = sorted(d for d, g in gains.items() if g == 2)
        cells = []
        for run in runs:
            r = ordinals(result["hits"][run][i])
            ranks = ",".join(str(r.index(d) + 1) if d in r else "-" for d in best)
            cells.append(f"{ranks:>8} {ndcg(r, gains):.2f}")
        label = query + ("" if not extra else " " + " ".join(extra))
        print(f"{kind:<12} {label[:48]:<48} " + " | ".join(cells))


def run_article(args, work):
    results = [run_set(args, work, path) for path in judged_sets(args)]
    pooled = {}
    for result in results:
        scores = {run: per_query(result["rows"], [ordinals(h) for h in hits])
                  for run, hits in result["hits"].items()}
        if result["name"] == "article" and args.latency_rounds:
            ms = ", ".join(f"{run} {1000 * statistics.median(l):.1f}" for run, l in result["latencies"].items() if l)
            print(f"\nmedian whole-process query time on the bundled article (ms): {ms}")
        report_kinds(f"{result['name']}: {len(result['rows'])} judged queries", scores, result["baseline"],
                     args.rounds, args.seed)
        if args.per_query:
            print_per_query(result)
        if result["name"] != "article":
            for run, values in scores.items():
                pooled.setdefault(run, []).extend(values)
    held_out = [r["name"] for r in results if r["name"] != "article"]
    if len(held_out) > 1 and pooled:
        report_kinds(f"held-out sets pooled ({', '.join(held_out)})", pooled, results[0]["baseline"],
                     args.rounds, args.seed)
    if args.study:
        study(args, results)


# ---------------------------------------------------------------- fusion study


def fuse_rrf(lex, sem, k=60.0, wl=1.0, ws=1.0):
    """Reciprocal rank fusion as rsearch does it (ties: better lexical rank, then semantic)."""
    score, lr, sr = {}, {}, {}
    for i, (key, _) in enumerate(lex):
        score[key] = score.get(key, 0.0) + wl / (k + i + 1)
        lr[key] = i + 1
    for i, (key, _) in enumerate(sem):
        score[key] = score.get(key, 0.0) + ws / (k + i + 1)
        sr[key] = i + 1
    inf = float("inf")
    return sorted(score, key=lambda d: (-score[d], lr.get(d, inf), sr.get(d, inf)))


def fuse_convex(lex, sem, alpha, norm="minmax"):
    """alpha × normalised BM25 + (1 − alpha) × normalised cosine; a side that misses a passage
    gives it 0. `minmax` scales each list to [0, 1]; `max` divides BM25 by the best BM25 and
    keeps the cosine as it is."""
    def scaled(pairs, kind):
        if not pairs:
            return {}
        values = [v for _, v in pairs]
        high, low = max(values), min(values)
        if kind == "minmax":
            span = high - low
            return {k: (v - low) / span if span > 0 else 1.0 for k, v in pairs}
        if kind == "max":
            return {k: v / high if high > 0 else 0.0 for k, v in pairs}
        return dict(pairs)

    a = scaled(lex, norm)
    b = scaled(sem, "minmax" if norm == "minmax" else "raw")
    keys = set(a) | set(b)
    lr = {k: i for i, (k, _) in enumerate(lex)}
    return sorted(keys, key=lambda d: (-(alpha * a.get(d, 0.0) + (1 - alpha) * b.get(d, 0.0)), lr.get(d, 1e9)))


def study_rules():
    """Fusion rules to compare: name → function(lexical pairs, semantic pairs, (is question,
    share of the query's words found in the corpus))."""
    rules = {"rrf k60 (current)": lambda l, s, q: fuse_rrf(l, s)}
    for g in (0.5, 1.0, 2.0):
        rules[f"rrf wl=coverage^{g}"] = lambda l, s, q, g=g: fuse_rrf(l, s, 60, q[1] ** g, 1.0)
    for b in (0.5, 1.0, 2.0):
        rules[f"rrf ws=1+{b}(1-coverage)"] = lambda l, s, q, b=b: fuse_rrf(l, s, 60, 1.0, 1 + b * (1 - q[1]))
    for m in (1.25, 1.5, 2.0, 3.0):
        rules[f"rrf wl=coverage×{m} if question"] = (
            lambda l, s, q, m=m: fuse_rrf(l, s, 60, q[1] * (m if q[0] else 1.0), 1.0))
    rules["rrf wl=coverage, ws1.5 if question"] = lambda l, s, q: fuse_rrf(l, s, 60, q[1], 1.5 if q[0] else 1.0)
    for k in (5, 10, 20, 30, 100):
        rules[f"rrf k{k}"] = lambda l, s, q, k=k: fuse_rrf(l, s, k)
    for ws in (1.25, 1.5, 2.0):
        rules[f"rrf k60 ws{ws}"] = lambda l, s, q, ws=ws: fuse_rrf(l, s, 60, 1.0, ws)
        rules[f"rrf k60 ws{ws} if question"] = lambda l, s, q, ws=ws: fuse_rrf(l, s, 60, 1.0, ws if q[0] else 1.0)
        rules[f"rrf k20 ws{ws} if question"] = lambda l, s, q, ws=ws: fuse_rrf(l, s, 20, 1.0, ws if q[0] else 1.0)
    for alpha in (0.3, 0.4, 0.5, 0.6, 0.7):
        rules[f"convex minmax a{alpha}"] = lambda l, s, q, a=alpha: fuse_convex(l, s, a, "minmax")
        rules[f"convex max a{alpha}"] = lambda l, s, q, a=alpha: fuse_convex(l, s, a, "max")
    for alpha in (0.3, 0.4):
        rules[f"convex max a0.5/{alpha} if question"] = (
            lambda l, s, q, a=alpha: fuse_convex(l, s, a if q[0] else 0.5, "max"))
        rules[f"convex minmax a0.5/{alpha} if question"] = (
            lambda l, s, q, a=alpha: fuse_convex(l, s, a if q[0] else 0.5, "minmax"))
    return rules


def study_items_of_set(result, candidates):
    """(kind, is question, lexical [(ordinal, BM25)], semantic [(ordinal, cosine)], gains)."""
    items = []
    lex, sem = result["hits"].get("lexical"), result["hits"].get("semantic")
    if lex is None or sem is None:
        return []
    coverage = result["coverage"] or [1.0] * len(lex)
    for (kind, query, _, gains), l, s, c in zip(result["rows"], lex, sem, coverage):
        items.append((kind, (is_question(query), c), [(h["ordinal"], h["score"]) for h in l][:candidates],
                      [(h["ordinal"], h["score"]) for h in s][:candidates], gains))
    return items


def study_table(title, items, rules, rounds, seed):
    """nDCG@10 of each rule by kind, and its paired difference from the current rule with the
    bootstrap interval over all queries."""
    kinds = [k for k in KIND_ORDER if k != "all" and any(i[0] == k for i in items)]
    kinds += sorted({i[0] for i in items} - set(kinds))
    print(f"\nfusion study, {title} ({len(items)} queries): nDCG@10 by kind; Δ all vs current [95% CI]")
    print(f"{'rule':<34} " + " ".join(f"{k[:11]:>11}" for k in kinds) + f" {'all':>7}  Δ")
    base = None
    for name, rule in rules.items():
        values = [ndcg(rule(l, s, q), g) for _, q, l, s, g in items]
        if base is None:
            base = values
        cells = [statistics.mean([v for v, it in zip(values, items) if it[0] == k]) for k in kinds]
        print(f"{name:<34} " + " ".join(f"{c:>11.3f}" for c in cells)
              + f" {statistics.mean(values):>7.3f}  {difference(values, base, rounds, seed)}")


def study(args, results, cranfield_items=None):
    rules = study_rules()
    for result in results:
        items = study_items_of_set(result, args.candidates)
        if items:
            study_table(result["name"], items, rules, args.rounds, args.seed)
    held = [it for r in results if r["name"] != "article" for it in study_items_of_set(r, args.candidates)]
    if held:
        study_table("held-out sets pooled", held, rules, args.rounds, args.seed)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cranfield", default=os.path.join(ROOT, "..", "shared", "bench-data", "cranfield"))
    p.add_argument("--judgements", action="append",
                   help="judgement file (repeatable; default: every benches/judgements/*.tsv)")
    p.add_argument("--depth", type=int, default=100, help="passages asked for per judged query")
    p.add_argument("--latency-rounds", type=int, default=5,
                   help="rounds of the bundled article's queries timed per run")
    p.add_argument("--per-query", action="store_true", help="print each judged query's ranks per run")
    p.add_argument("--study", action="store_true",
                   help="compare fusion rules offline on the lexical and semantic rankings")
    p.add_argument("--candidates", type=int, default=100,
                   help="passages each side brings to a fusion in --study (rsearch: 100)")
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
    p.add_argument("--keep", help="work folder to keep and reuse (default: a temporary one)")
    args = p.parse_args()
    args.bin = os.path.abspath(args.bin)
    if not os.path.exists(args.bin):
        sys.exit(f"relevance: no binary at {args.bin}; run `cargo build --release` first")
    if args.keep:
        # An index kept from an earlier run is updated in place: only changed files are
        # indexed and embedded again.
        os.makedirs(args.keep, exist_ok=True)
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
