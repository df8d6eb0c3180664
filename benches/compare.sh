#!/usr/bin/env bash
# Whole-process comparison of rsearch with ripgrep over one corpus folder.
#
# Usage: benches/compare.sh CORPUS_DIR [QUERIES_FILE]
#   Builds the release binary, indexes CORPUS_DIR (wall time and peak RSS from /usr/bin/time -v,
#   index size from du), then times a fixed list of queries as whole processes with hyperfine:
#   `rsearch query` on the index (default flags, so with its freshness check) and `rg -i -c`
#   over the same folder (the query's words as alternatives). QUERIES_FILE holds one query a
#   line; without it a built-in list is used.
# Environment: MAX_QUERIES (default 40) queries are taken from the file, each run RUNS times
#   (default 10) after WARMUP runs (default 2). KEEP=1 keeps the work folder.
# Installs hyperfine, ripgrep and GNU time with apt-get when they are missing.
set -euo pipefail

corpus=${1:?usage: benches/compare.sh CORPUS_DIR [QUERIES_FILE]}
queries_file=${2:-}
max_queries=${MAX_QUERIES:-40}
runs=${RUNS:-10}
warmup=${WARMUP:-2}
root="$(cd "$(dirname "$0")/.." && pwd)"
corpus="$(cd "$corpus" && pwd)"

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
}
need

echo "building the release binary ..." >&2
(cd "$root" && cargo build --release --quiet)
bin="${CARGO_TARGET_DIR:-$root/target}/release/rsearch"
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac

work="$(mktemp -d)"
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$work"' EXIT; fi

# Queries: from the file (commas dropped: hyperfine separates values with them), else built in.
if [ -n "$queries_file" ]; then
  mapfile -t queries < <(grep -v '^[[:space:]]*$' "$queries_file" | tr -d ',' | head -n "$max_queries")
else
  queries=("cybersecurity" "market research" "investors" "product roadmap" "board of directors"
           "security" "strategy" "customer" "technology" "leadership")
fi
[ ${#queries[@]} -gt 0 ] || { echo "compare.sh: no queries" >&2; exit 2; }
rsearch_list=$(printf '%s,' "${queries[@]}"); rsearch_list=${rsearch_list%,}
# rg gets the query's words as alternatives, as rsearch matches any of them.
rg_list=$(for q in "${queries[@]}"; do printf '%s,' "$(echo "$q" | tr -s ' ' '|')"; done); rg_list=${rg_list%,}

read -r files corpus_mb < <(find "$corpus" -type f \( -name '*.txt' -o -name '*.md' \) -not -path '*/.*' \
  -printf '%s\n' | awk '{n++; b+=$1} END {printf "%d %.2f\n", n, b/1e6}')

echo "indexing $corpus ..." >&2
/usr/bin/time -v "$bin" index --corpus "$corpus" --index "$work/index" >"$work/index.out" 2>"$work/index.time"
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/index.time")
wall_s=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
rss_mb=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$work/index.time")
cpu=$(awk -F': ' '/Percent of CPU/ {print $2}' "$work/index.time")
index_mb=$(du -sk "$work/index" | awk '{printf "%.1f", $1/1024}')

echo "timing ${#queries[@]} queries x $runs runs ..." >&2
hyperfine -N -i --style none --warmup "$warmup" --runs "$runs" \
  --export-json "$work/floor.json" "true" >/dev/null 2>&1
hyperfine -N -i --style none --warmup "$warmup" --runs "$runs" -L q "$rsearch_list" \
  --export-json "$work/rsearch.json" "$bin query '{q}' --index $work/index" >/dev/null 2>&1
hyperfine -N -i --style none --warmup "$warmup" --runs "$runs" -L q "$rg_list" \
  --export-json "$work/rg.json" "rg -i -c --no-messages -e '{q}' $corpus" >/dev/null 2>&1

python3 - "$work" "$corpus" "$files" "$corpus_mb" "$wall_s" "$rss_mb" "$cpu" "$index_mb" \
  "${#queries[@]}" "$runs" <<'EOF'
import json, statistics, sys
work, corpus, files, corpus_mb, wall, rss, cpu, index_mb, nq, runs = sys.argv[1:]

def times(name):
    with open(f"{work}/{name}.json") as f:
        data = json.load(f)
    return sorted(t * 1000 for r in data["results"] for t in r["times"])

def p95(ts):
    return ts[min(len(ts) - 1, int(round(0.95 * (len(ts) - 1))))]

floor, rs, rg = times("floor"), times("rsearch"), times("rg")
print(f"corpus      {corpus}: {files} files, {corpus_mb} MB")
print(f"build       {float(wall):.2f} s wall, {cpu} CPU, peak RSS {rss} MB, index {index_mb} MB")
print(f"queries     {nq} queries x {runs} runs, whole process, warm cache")
print(f"  rsearch   median {statistics.median(rs):7.2f} ms   p95 {p95(rs):7.2f} ms")
print(f"  rg -i     median {statistics.median(rg):7.2f} ms   p95 {p95(rg):7.2f} ms")
print(f"  true      median {statistics.median(floor):7.2f} ms   (process start floor)")
print(f"  ratio     rg / rsearch: {statistics.median(rg) / statistics.median(rs):.1f}x at the median, "
      f"{p95(rg) / p95(rs):.1f}x at p95")
EOF
