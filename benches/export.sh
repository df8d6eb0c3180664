#!/usr/bin/env bash
# Export throughput and memory: `rsearch export` of a corpus folder, RUNS times, under GNU time,
# interleaved with a baseline measured in the same sitting (`cat` of the same files), so a busy
# machine shows in both. Prints each run, then medians: wall, CPU (user + sys), MB/s of corpus
# text by wall and by CPU time, peak RSS; and the ratio of export wall time to the baseline's.
#
#   benches/export.sh CORPUS_DIR                  # e.g. /tmp/rsearch-corpora/corpora/large
#   RUNS=7 FORMAT=opensearch-bulk benches/export.sh CORPUS_DIR
#   RSEARCH=path/to/rsearch benches/export.sh CORPUS_DIR   # measure another build
#   OUT=/tmp/x.ndjson benches/export.sh CORPUS_DIR       # write a file (--out) instead of a pipe
#
# Needs GNU time (/usr/bin/time; `apt-get install time`) and python3 for the medians.
set -euo pipefail

corpus=${1:?usage: benches/export.sh CORPUS_DIR}
runs=${RUNS:-5}
format=${FORMAT:-ndjson}
here=$(cd "$(dirname "$0")/.." && pwd)

if [[ ! -x /usr/bin/time ]]; then
  echo "export.sh: GNU time is missing: apt-get install time" >&2
  exit 2
fi
if [[ -z "${RSEARCH:-}" ]]; then
  (cd "$here" && cargo build --release --quiet)
  RSEARCH="$here/target/release/rsearch"
fi

# The text an export reads: every .txt and .md file, hidden ones left out as rsearch does.
list=$(mktemp)
results=$(mktemp)
trap 'rm -f "$list" "$results"' EXIT
find -L "$corpus" -path '*/.*' -prune -o -type f \( -name '*.txt' -o -name '*.md' \) -print0 >"$list"
bytes=$(xargs -0 stat -L -c %s <"$list" | awk '{s += $1} END {print s + 0}')
files=$(tr -cd '\0' <"$list" | wc -c)
awk -v c="$corpus" -v f="$files" -v b="$bytes" 'BEGIN {printf "corpus   %s: %d files, %.1f MB of text\n", c, f, b / 1e6}'
printf 'rsearch  %s export --format %s%s\n' "$RSEARCH" "$format" "${OUT:+ --out $OUT}"
printf 'load     %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"

measure() { # label, command...
  local label=$1
  shift
  /usr/bin/time -f "$label %e %U %S %M" -o "$results" -a "$@" >/dev/null
}

# A warm-up of each, so both read from the page cache.
xargs -0 cat <"$list" >/dev/null
"$RSEARCH" export --corpus "$corpus" --format "$format" >/dev/null
for ((run = 1; run <= runs; run++)); do
  measure cat xargs -0 -a "$list" cat
  if [[ -n "${OUT:-}" ]]; then
    measure export "$RSEARCH" export --corpus "$corpus" --format "$format" --out "$OUT"
  else
    measure export "$RSEARCH" export --corpus "$corpus" --format "$format"
  fi
done
[[ -n "${OUT:-}" ]] && rm -f "$OUT"

python3 - "$results" "$bytes" <<'EOF'
import statistics, sys
path, total = sys.argv[1], int(sys.argv[2])
rows = {}
for line in open(path):
    parts = line.split()
    # GNU time prints a "Command exited with non-zero status" line before a failed run's.
    if len(parts) == 5 and parts[0] in ("cat", "export"):
        label, wall, user, sys_, rss = parts
        rows.setdefault(label, []).append((float(wall), float(user) + float(sys_), int(rss)))
mb = total / 1e6
print(f"{'run':<8}{'wall s':>9}{'cpu s':>9}{'MB/s wall':>11}{'MB/s cpu':>10}{'RSS MB':>9}")
for label in ("cat", "export"):
    for wall, cpu, rss in rows.get(label, []):
        print(f"{label:<8}{wall:>9.2f}{cpu:>9.2f}{mb / max(wall, 1e-9):>11.1f}"
              f"{mb / max(cpu, 1e-9):>10.1f}{rss / 1024:>9.1f}")
print("medians")
median = {}
for label in ("cat", "export"):
    got = rows.get(label, [])
    if not got:
        continue
    wall = statistics.median(r[0] for r in got)
    cpu = statistics.median(r[1] for r in got)
    rss = max(r[2] for r in got)
    median[label] = wall
    print(f"{label:<8}{wall:>9.2f}{cpu:>9.2f}{mb / max(wall, 1e-9):>11.1f}"
          f"{mb / max(cpu, 1e-9):>10.1f}{rss / 1024:>9.1f}  (RSS: the largest of {len(got)} runs)")
if "cat" in median and "export" in median:
    print(f"export / cat wall time: {median['export'] / max(median['cat'], 1e-9):.1f}x")
EOF
