#!/usr/bin/env python3
"""Writes the same text three times: as one large Markdown file (`one/handbook.md`), as a folder
of small files (`many/part-NNNN.md`) and as one large plain-text file (`txt/handbook.txt`, a
hard link to the Markdown file where the file system allows, else a copy), for comparing
`rsearch index` and `rsearch sections` on one file against a folder of the same size.
Usage: big_file.py OUT_DIR [MEGABYTES] (default 200). With RSEARCH=path/to/rsearch set, it
then indexes each (into OUT_DIR/index-NAME, removed after) under GNU time and prints wall, CPU
and peak RSS of each; RSEARCH may name several binaries separated by commas (say, a build
before a change and one after), measured in turn, each folder RUNS times (default 1)."""

import os
import random
import shutil
import subprocess
import sys

WORDS = ("the company product market research team strategy customer data security board "
         "directors investors growth revenue vision technology roadmap engineering design "
         "decision leadership culture risk compliance platform feature release quality budget "
         "hiring partner analysis roles skills communication conflict").split()
ROLES = ["The CTO", "The CEO", "Product Managers", "The board"]


def section(rng, n):
    parts = [f"## {rng.choice(['Role of', 'Skills of', 'Notes on'])} part {n}\n\n"]
    for _ in range(4):
        sentences = []
        for _ in range(rng.randint(3, 6)):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20)))
            sentences.append(f"{rng.choice(ROLES)} {words}.")
        parts.append(" ".join(sentences) + "\n\n")
    return "".join(parts)


def main():
    out = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    rng = random.Random(7)
    os.makedirs(os.path.join(out, "one"), exist_ok=True)
    os.makedirs(os.path.join(out, "many"), exist_ok=True)
    target = size * 1_000_000
    written = 0
    n = 0
    part = 0
    with open(os.path.join(out, "one", "handbook.md"), "w") as one:
        one.write("# Generated handbook\n\n")
        while written < target:
            chapter = f"# Chapter {part}\n\n" + "".join(section(rng, n + i) for i in range(50))
            n += 50
            one.write(chapter)
            with open(os.path.join(out, "many", f"part-{part:04}.md"), "w") as small:
                small.write(chapter)
            written += len(chapter)
            part += 1
    os.makedirs(os.path.join(out, "txt"), exist_ok=True)
    txt = os.path.join(out, "txt", "handbook.txt")
    if os.path.exists(txt):
        os.remove(txt)
    try:
        os.link(os.path.join(out, "one", "handbook.md"), txt)
    except OSError:
        shutil.copyfile(os.path.join(out, "one", "handbook.md"), txt)
    print(f"{written / 1e6:.1f} MB, {n} headings, {part} small files")
    binaries = [b for b in os.environ.get("RSEARCH", "").split(",") if b]
    runs = int(os.environ.get("RUNS", "1"))
    for _ in range(runs):
        for rsearch in binaries:
            for name in ("one", "txt", "many"):
                measure(rsearch, out, name)


def measure(rsearch, out, name):
    """Indexes OUT/name under GNU time and prints its wall and CPU seconds and peak RSS."""
    index = os.path.join(out, f"index-{name}")
    shutil.rmtree(index, ignore_errors=True)
    command = ["/usr/bin/time", "-f", "%e %U %S %M", rsearch, "index",
               "--corpus", os.path.join(out, name), "--index", index]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    shutil.rmtree(index, ignore_errors=True)
    wall, user, system, rss = done.stderr.strip().splitlines()[-1].split()
    print(f"{rsearch}: index {name:<5} {float(wall):7.2f} s wall {float(user) + float(system):7.2f} s CPU "
          f"peak RSS {int(rss) / 1024:7.1f} MB (exit {done.returncode})")


if __name__ == "__main__":
    main()
