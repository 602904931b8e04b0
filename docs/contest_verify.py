#!/usr/bin/env python3
"""Checks a crier contest proof (`crier contest proof NAME > proof.json`) without crier.

Usage: python3 contest_verify.py proof.json
Algorithm crier-draw-v1: the list hash is SHA-256 of the entry keys joined by "\n"; the seed
commitment is SHA-256 of the 64 hex characters of the seed; each key scores
SHA-256(seed + "\n" + key) in hex, and keys sorted by (score, key) give the winners, then
the reserves. Each substitution replaces a winner with the next unused reserve.
"""
import hashlib, json, sys

def sha(text): return hashlib.sha256(text.encode()).hexdigest()

def check(proof):
    problems = []
    if sha("\n".join(proof["entries"])) != proof["list_sha256"]:
        problems.append("the entry list is not the one committed")
    seed = proof["seed"]
    if seed is None or sha(seed) != proof["seed_sha256"]:
        return problems + ["the revealed seed is not the one committed"]
    ranked = sorted(proof["entries"], key=lambda key: (sha(seed + "\n" + key), key))
    n = proof["winners_wanted"]
    winners, reserves = ranked[:n], ranked[n:n + proof["reserves_wanted"]]
    for s in proof.get("substitutions", []):
        replacement = reserves.pop(0) if reserves else None
        if s["out"] not in winners or s["in"] != replacement:
            problems.append("substitution of %s does not follow the reserves" % s["out"])
            continue
        i = winners.index(s["out"])
        if replacement is None: winners.pop(i)
        else: winners[i] = replacement
    if winners != proof["winners"]: problems.append("the winners do not follow: %s" % winners)
    if reserves != proof["reserves"]: problems.append("the reserves do not follow: %s" % reserves)
    return problems

if __name__ == "__main__":
    proof = json.load(open(sys.argv[1]))
    problems = check(proof)
    for p in problems: print("✗", p)
    if not problems: print("the proof holds; winners:", ", ".join(proof["winners"]))
    sys.exit(1 if problems else 0)
