#!/usr/bin/env python3
"""Reads criterion's estimates of the last `per_request` run and prints every row, its cost
over the baseline of the same run, and each target of BENCHMARKS.md with its ratio.

Usage: report.py <criterion dir> <instructions binary> (scripts/bench passes both; the
binary lists every row's baseline)."""
import json
import os
import sys

from rows import rows as listed

root = sys.argv[1]
baselines = {name: baseline for _, name, baseline in listed(sys.argv[2])}


def median(group, row):
    path = os.path.join(root, group, row, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except FileNotFoundError:
        return None


def ns(v):
    if v is None:
        return "-"
    return f"{v / 1000:.2f} us" if v >= 10_000 else f"{v:.0f} ns"


rows = {}
for group in ("per_request", "floor", "password"):
    d = os.path.join(root, group)
    if not os.path.isdir(d):
        continue
    for row in sorted(os.listdir(d)):
        v = median(group, row)
        if v is not None:
            rows[row] = (group, v)

def over(row):
    """The row minus its baseline, or None for rows that have none (or were not run)."""
    baseline = baselines.get(row)
    if row not in rows or baseline not in rows:
        return None
    return rows[row][1] - rows[baseline][1]


def cost(row):
    """What a row adds: over its baseline for requests, the row itself for floors."""
    if row not in rows:
        return None
    return rows[row][1] if rows[row][0] != "per_request" else over(row)


print("| row | median | cost over its baseline |")
print("|---|---|---|")
for row, (group, v) in rows.items():
    c = over(row)
    print(f"| `{group}/{row}` | {ns(v)} | {'+' + ns(c) if c is not None else ''} |")
print()

targets = []
anchor = cost("tower_http_header")
for row in ("token", "query_token", "app_key", "access_pair"):
    targets.append((f"`{row}` cost / tower-http `has_header_value` cost", cost(row), anchor, 4.0))
targets.append(("`token_refused` cost / `token` cost", cost("token_refused"), cost("token"), 2.0))
targets.append(("`jwt_hs256` cost / raw jsonwebtoken decode", cost("jwt_hs256"),
                cost("jsonwebtoken_decode_hs256"), 0.6))
targets.append(("`jwt_hs256` cost / pre-keyed HMAC-SHA256", cost("jwt_hs256"),
                cost("hmac_sha256_prekeyed"), 4.0))
targets.append(("`jwt_hs256` cost / jwt-authorizer cost", cost("jwt_hs256"),
                cost("jwt_authorizer_hs256"), None))
targets.append(("`ours_rs256` / `rsa` verify", cost("ours_rs256"), cost("rsa_verify_rs256"), 1.1))
targets.append(("`ours_es256` / `p256` verify", cost("ours_es256"), cost("p256_verify_es256"), 1.1))
targets.append(("`basic_cached` cost / `app_key` cost", cost("basic_cached"), cost("app_key"), 1.5))
targets.append(("`app_key` cost / SHA-256 of the key", cost("app_key"), cost("sha256_of_key"), None))

print("| target | ratio | at most | met |")
print("|---|---|---|---|")
failed = 0
for name, a, b, limit in targets:
    if a is None or b is None or b <= 0:
        print(f"| {name} | - | {limit or ''} | not measured |")
        continue
    r = a / b
    met = "" if limit is None else ("yes" if r <= limit else "**no**")
    failed += limit is not None and r > limit
    print(f"| {name} | {r:.2f}x | {f'{limit}x' if limit else '(context)'} | {met} |")
print()
print(f"{failed} target(s) not met" if failed else "every target met")
