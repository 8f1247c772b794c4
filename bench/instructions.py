#!/usr/bin/env python3
"""Instruction counts per iteration of each row, under callgrind (stable on a noisy machine):
only the measuring loop is counted (`--toggle-collect`), after one warm-up iteration. Per-request
rows also print their cost over `bare` (the same subtraction as the wall-time report).

Usage: instructions.py <instructions binary> [substring filter]"""
import os
import re
import subprocess
import sys
import tempfile

from rows import rows

binary = sys.argv[1]
wanted = sys.argv[2] if len(sys.argv) > 2 else ""
# argon2 and RSA are millions of instructions per iteration: fewer iterations say the same.
N = {"password": 2, "ours_rs256": 20, "rsa_verify_rs256": 20, "ours_es256": 20, "p256_verify_es256": 20}


def total(name, n):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=instructions::measured",
                        f"--callgrind-out-file={out}", binary, name, str(n)],
                       check=True, capture_output=True)
        with open(out) as f:
            for line in f:
                m = re.match(r"(?:summary|totals): (\d+)", line)
                if m:
                    return int(m.group(1))
    raise SystemExit(f"no total for {name}")


per = {}
for group, name, baseline in rows(binary):
    # Baselines are always counted: the rows that want them subtract them.
    is_baseline = group == "per_request" and baseline is None
    if wanted and wanted not in name and not is_baseline:
        continue
    n = N.get(group, N.get(name, 200))
    per[name] = (group, baseline, total(name, n) / n)

print("| row | instructions per iteration | over its baseline |")
print("|---|---|---|")
for name, (group, baseline, ir) in per.items():
    base = per.get(baseline)
    over = f"+{ir - base[2]:,.0f}" if base else ""
    print(f"| `{group}/{name}` | {ir:,.0f} | {over} |")
