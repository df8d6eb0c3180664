#!/usr/bin/env bash
# Whole-process comparison of rsearch with tantivy-cli (and ripgrep) over one corpus, in one run.
#
# Usage: benches/compare.sh CORPUS_DIR [QUERIES_FILE]
#   Builds the release binary, then, one after the other on the same machine:
#   - indexes CORPUS_DIR with `rsearch index --full` and the same passages with tantivy-cli 0.24
#     (`tantivy index`, default settings, fed the JSON lines {"source","title","text"} found at
#     CORPUS_DIR/../../jsonl/NAME.jsonl, or at $JSONL), each under /usr/bin/time -v: wall time,
#     CPU time (user + system), peak RSS, and the index size from du;
#   - times every query as a whole process with hyperfine: `rsearch query --json --limit 10`
#     (default flags otherwise, so with its freshness check), `tantivy bench` of that one query
#     (top 10 and the hit count, then the 10 stored documents), `rg -i -c` over the corpus (the
#     query's words as alternatives; RG=0 leaves it out) and `true` (the cost of starting a
#     process), and the peak RSS of one query of each engine;
#   - prints a table and the ratios rsearch / tantivy-cli.
#   QUERIES_FILE holds one query a line; without it a built-in list is used.
# Environment: MAX_QUERIES (default 40) queries are taken from the file, each run RUNS times
#   (default 10) after WARMUP runs (default 2). KEEP=1 keeps the work folder. TANTIVY names the
#   tantivy-cli binary (default: `tantivy` on PATH, installed with cargo when missing); RSEARCH
#   names an rsearch binary to measure instead of building this tree's (e.g. an older build).
#   BASELINE names a second rsearch binary (e.g. the previous release) whose queries are timed
#   on the same index in the same hyperfine run, interleaved with the others, for a
#   before/after comparison that the load of the moment affects alike.
# Installs hyperfine, ripgrep and GNU time with apt-get when they are missing.
set -euo pipefail

corpus=${1:?usage: benches/compare.sh CORPUS_DIR [QUERIES_FILE]}
queries_file=${2:-}
max_queries=${MAX_QUERIES:-40}
runs=${RUNS:-10}
warmup=${WARMUP:-2}
with_rg=${RG:-1}
root="$(cd "$(dirname "$0")/.." && pwd)"
corpus="$(cd "$corpus" && pwd)"
jsonl=${JSONL:-"$(dirname "$(dirname "$corpus")")/jsonl/$(basename "$corpus").jsonl"}
[ -f "$jsonl" ] || { echo "compare.sh: no JSON lines for tantivy-cli at $jsonl (set JSONL)" >&2; exit 2; }

need() {
  local missing=()
  command -v hyperfine >/dev/null || missing+=(hyperfine)
  command -v rg >/dev/null || missing+=(ripgrep)
  [ -x /usr/bin/time ] || missing+=(time)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} ..." >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  tantivy=${TANTIVY:-$(command -v tantivy || true)}
  if [ -z "$tantivy" ]; then
    echo "installing tantivy-cli 0.24.0 ..." >&2
    cargo install --quiet tantivy-cli --version 0.24.0
    tantivy="${CARGO_HOME:-$HOME/.cargo}/bin/tantivy"
  fi
}
need

if [ -n "${RSEARCH:-}" ]; then
  bin=$RSEARCH
else
  echo "building the release binary ..." >&2
  (cd "$root" && cargo build --release --quiet)
  bin="${CARGO_TARGET_DIR:-$root/target}/release/rsearch"
  case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
fi

work="$(mktemp -d)"
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$work"' EXIT; fi

# Queries: from the file (commas dropped: hyperfine separates values with them; quotes and
# slashes too: a query is also a file name), else built in.
if [ -n "$queries_file" ]; then
  mapfile -t queries < <(grep -v '^[[:space:]]*$' "$queries_file" | tr -d ",'\"/\\\\" | head -n "$max_queries")
else
  queries=("cybersecurity" "market research" "investors" "product roadmap" "board of directors"
           "security" "strategy" "customer" "technology" "leadership")
fi
[ ${#queries[@]} -gt 0 ] || { echo "compare.sh: no queries" >&2; exit 2; }
query_list=$(printf '%s,' "${queries[@]}"); query_list=${query_list%,}
# rg gets the query's words as alternatives, as rsearch matches any of them.
rg_list=$(for q in "${queries[@]}"; do printf '%s,' "$(echo "$q" | tr -s ' ' '|')"; done); rg_list=${rg_list%,}
# tantivy bench reads its queries from a file: one file per query, named by the query.
mkdir -p "$work/q"
for q in "${queries[@]}"; do printf '%s\n' "$q" >"$work/q/$q"; done

read -r files corpus_mb < <(find "$corpus" -type f \( -name '*.txt' -o -name '*.md' \) -not -path '*/.*' \
  -printf '%s\n' | awk '{n++; b+=$1} END {printf "%d %.2f\n", n, b/1e6}')

# The figures of a /usr/bin/time -v report: wall s, CPU s, peak RSS MB.
timed() {
  awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = (n == 3) ? p[1]*3600 + p[2]*60 + p[3] : p[1]*60 + p[2] }
    /User time/ { u = $2 } /System time/ { s = $2 }
    /Maximum resident set size/ { r = $2 / 1024 }
    END { printf "%.2f %.2f %.0f\n", w, u + s, r }' "$1"
}

echo "indexing $corpus with rsearch ..." >&2
/usr/bin/time -v "$bin" index --full --corpus "$corpus" --index "$work/rsearch-index" \
  >"$work/rsearch-index.out" 2>"$work/rsearch-index.time"
read -r rs_wall rs_cpu rs_rss < <(timed "$work/rsearch-index.time")
rs_mb=$(du -sk "$work/rsearch-index" | awk '{printf "%.1f", $1/1024}')
rs_segments=$(find "$work/rsearch-index" -name '*.store' | wc -l)

echo "indexing $jsonl with tantivy-cli ..." >&2
mkdir -p "$work/tantivy-index"
# tantivy-cli's `new` is interactive; this is the schema it writes for three text fields,
# each indexed with positions and stored, the source as one untokenized term.
cat >"$work/tantivy-index/meta.json" <<'EOF'
{"index_settings": {"docstore_compression": "lz4", "docstore_blocksize": 16384},
 "segments": [], "opstamp": 0,
 "schema": [
  {"name": "source", "type": "text", "options": {"indexing": {"record": "basic", "fieldnorms": true, "tokenizer": "raw"}, "stored": true, "fast": false}},
  {"name": "title", "type": "text", "options": {"indexing": {"record": "position", "fieldnorms": true, "tokenizer": "en_stem"}, "stored": true, "fast": false}},
  {"name": "text", "type": "text", "options": {"indexing": {"record": "position", "fieldnorms": true, "tokenizer": "en_stem"}, "stored": true, "fast": false}}
 ]}
EOF
/usr/bin/time -v "$tantivy" index -i "$work/tantivy-index" -f "$jsonl" \
  >"$work/tantivy-index.out" 2>"$work/tantivy-index.time"
read -r tv_wall tv_cpu tv_rss < <(timed "$work/tantivy-index.time")
tv_mb=$(du -sk "$work/tantivy-index" | awk '{printf "%.1f", $1/1024}')
tv_segments=$(find "$work/tantivy-index" -name '*.store' | wc -l)

echo "timing ${#queries[@]} queries x $runs runs ..." >&2
hyperfine -N -i --style none --warmup "$warmup" --runs "$runs" \
  --export-json "$work/floor.json" "true" >/dev/null 2>&1
baseline_command=()
if [ -n "${BASELINE:-}" ]; then
  baseline_command=("${BASELINE} query '{q}' --json --limit 10 --index $work/rsearch-index")
fi
hyperfine -N -i --style none --warmup "$warmup" --runs "$runs" -L q "$query_list" \
  --export-json "$work/both.json" \
  "$bin query '{q}' --json --limit 10 --index $work/rsearch-index" \
  "$tantivy bench -i $work/tantivy-index -n 1 -q '$work/q/{q}'" \
  "${baseline_command[@]}" >/dev/null 2>&1
if [ "$with_rg" = 1 ]; then
  hyperfine -N -i --style none --warmup "$warmup" --runs "$runs" -L q "$rg_list" \
    --export-json "$work/rg.json" "rg -i -c --no-messages -e '{q}' $corpus" >/dev/null 2>&1
fi

# Peak RSS of one query process of each engine (the median over the first 10 queries).
median_rss() { sort -n | awk '{a[NR] = $1} END {printf "%.0f", a[int((NR + 1) / 2)] / 1024}'; }
rs_query_rss=$(for q in "${queries[@]:0:10}"; do
  /usr/bin/time -f '%M' "$bin" query "$q" --json --limit 10 --index "$work/rsearch-index" 2>&1 >/dev/null | tail -n 1
done | median_rss)
tv_query_rss=$(for q in "${queries[@]:0:10}"; do
  /usr/bin/time -f '%M' "$tantivy" bench -i "$work/tantivy-index" -n 1 -q "$work/q/$q" 2>&1 >/dev/null | tail -n 1
done | median_rss)

python3 - "$work" "$corpus" "$files" "$corpus_mb" "${#queries[@]}" "$runs" "$with_rg" "$bin" "${BASELINE:-}" \
  "$rs_wall" "$rs_cpu" "$rs_rss" "$rs_mb" "$rs_segments" "$rs_query_rss" \
  "$tv_wall" "$tv_cpu" "$tv_rss" "$tv_mb" "$tv_segments" "$tv_query_rss" <<'EOF'
import json, statistics, sys
(work, corpus, files, corpus_mb, nq, runs, with_rg, rs_bin, base_bin,
 rs_wall, rs_cpu, rs_rss, rs_mb, rs_seg, rs_qrss,
 tv_wall, tv_cpu, tv_rss, tv_mb, tv_seg, tv_qrss) = sys.argv[1:]

def load(name):
    with open(f"{work}/{name}.json") as f:
        return json.load(f)["results"]

def ms(results):
    return sorted(t * 1000 for r in results for t in r["times"])

def p95(ts):
    return ts[min(len(ts) - 1, int(round(0.95 * (len(ts) - 1))))]

both = load("both")
rs = ms([r for r in both if r["command"].split()[0] == rs_bin])
tv = ms([r for r in both if r["command"].split()[0] not in (rs_bin, base_bin)])
base = ms([r for r in both if base_bin and r["command"].split()[0] == base_bin])
floor = ms(load("floor"))
med = statistics.median
print(f"corpus   {corpus}: {files} files, {corpus_mb} MB; {nq} queries x {runs} runs, whole process, warm cache")
print()
print("| | build s (wall) | build CPU s | peak RSS MB | index MB | segments | query p50 ms | p95 ms | query RSS MB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
print(f"| tantivy-cli 0.24 (`index`, `bench` top 10) | {float(tv_wall):.1f} | {float(tv_cpu):.1f} | {tv_rss} | "
      f"{float(tv_mb):.1f} | {tv_seg} | {med(tv):.2f} | {p95(tv):.2f} | {tv_qrss} |")
print(f"| rsearch (`index --full`, `query --json --limit 10`) | {float(rs_wall):.1f} | {float(rs_cpu):.1f} | {rs_rss} | "
      f"{float(rs_mb):.1f} | {rs_seg} | {med(rs):.2f} | {p95(rs):.2f} | {rs_qrss} |")
print(f"| ratio rsearch / tantivy-cli | {float(rs_wall) / float(tv_wall):.2f} | {float(rs_cpu) / float(tv_cpu):.2f} | "
      f"{float(rs_rss) / float(tv_rss):.2f} | {float(rs_mb) / float(tv_mb):.2f} | | {med(rs) / med(tv):.2f} | "
      f"{p95(rs) / p95(tv):.2f} | {float(rs_qrss) / float(tv_qrss):.2f} |")
if base:
    print(f"| rsearch `BASELINE` ({base_bin}), same index, same run | | | | | | {med(base):.2f} | {p95(base):.2f} | |")
    print(f"| ratio BASELINE / tantivy-cli | | | | | | {med(base) / med(tv):.2f} | {p95(base) / p95(tv):.2f} | |")
    print(f"| ratio rsearch / BASELINE | | | | | | {med(rs) / med(base):.2f} | {p95(rs) / p95(base):.2f} | |")
if with_rg == "1":
    rg = ms(load("rg"))
    print(f"| ripgrep `rg -i -c` | | | | | | {med(rg):.2f} | {p95(rg):.2f} | |")
print(f"| process floor (`true`) | | | | | | {med(floor):.2f} | {p95(floor):.2f} | |")
EOF
