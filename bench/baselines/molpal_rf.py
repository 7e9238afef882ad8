#!/usr/bin/env python3
"""MolPAL's retrospective protocol with a random forest, the Python baseline of `labloop bench al`.

BENCHMARKS.md section 1: Enamine 10k docking scores against thrombin (lower is better); 1% of the
library at random, then 5 batches of 1% chosen greedily; the model retrained from scratch every
iteration. Model as in MolPAL's RF: scikit-learn RandomForestRegressor with 100 trees of depth 8 on
2048-bit Morgan fingerprints (radius 2). Featurization is done once and timed apart, as labloop
caches fingerprints; one iteration is fit + score the pool + select, the same span labloop times.

Run with Debian's interpreter, which sees python3-rdkit and python3-sklearn:
  /usr/bin/python3 bench/baselines/molpal_rf.py --library L.csv.gz --scores S.csv.gz --json OUT
"""
import argparse
import csv
import gzip
import json
import os
import time

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem, DataStructs
from sklearn.ensemble import RandomForestRegressor


def read_csv(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return list(csv.DictReader(f))


def fingerprints(smiles):
    RDLogger.DisableLog("rdApp.*")
    x = np.zeros((len(smiles), 2048), dtype=np.uint8)
    ok = np.zeros(len(smiles), dtype=bool)
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s)
        if mol is None:
            continue
        fp = AllChem.GetMorganFingerprintAsBitVect(mol, 2, nBits=2048)
        DataStructs.ConvertToNumpyArray(fp, x[i])
        ok[i] = True
    return x, ok


def metrics(found, y, k=100):
    """MolPAL's three metrics over the scores found (lower is better)."""
    finite = np.isfinite(y)
    order = np.argsort(np.where(finite, y, np.inf), kind="stable")
    true_top = order[:k]
    threshold = y[true_top[-1]]
    found_scores = np.sort(y[[i for i in found if finite[i]]])[:k]
    return {
        "scores": float(np.sum(found_scores <= threshold)) / k,
        "smiles": float(len(set(true_top) & set(found))) / k,
        "avg": float(found_scores.mean() / y[true_top].mean()) if len(found_scores) else 0.0,
    }


def run(x, y, seed, init, batch, iters, jobs):
    rng = np.random.default_rng(seed)
    n = len(y)
    found = list(rng.choice(n, size=init, replace=False))
    seconds = []
    for _ in range(iters):
        t0 = time.perf_counter()
        labelled = [i for i in found if np.isfinite(y[i])]
        model = RandomForestRegressor(n_estimators=100, max_depth=8, n_jobs=jobs, random_state=seed)
        model.fit(x[labelled], y[labelled])
        predicted = model.predict(x)
        predicted[found] = np.inf  # already evaluated
        picked = np.argsort(predicted, kind="stable")[:batch]  # greedy: lowest predicted score
        seconds.append(time.perf_counter() - t0)
        found.extend(int(i) for i in picked)
    return metrics(found, y), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", required=True)
    parser.add_argument("--scores", required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--init", type=float, default=0.01, help="fraction of the library")
    parser.add_argument("--batch", type=float, default=0.01, help="fraction of the library")
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--json", required=True)
    args = parser.parse_args()

    library = [row["smiles"] for row in read_csv(args.library)]
    score_of = {}
    for row in read_csv(args.scores):
        if row["score"]:
            score_of[row["smiles"]] = float(row["score"])
    t0 = time.perf_counter()
    x, ok = fingerprints(library)
    featurize_seconds = time.perf_counter() - t0
    y = np.array([score_of.get(s, np.inf) if ok[i] else np.inf for i, s in enumerate(library)])
    y[~np.isfinite(y)] = np.nan
    n = len(library)
    init, batch = round(args.init * n), round(args.batch * n)

    runs = []
    for seed in range(args.seeds):
        m, seconds = run(x, y, seed, init, batch, args.iters, args.jobs)
        runs.append({"seed": seed, "metrics": m, "iteration_seconds": seconds})
        print(f"seed {seed}: top-100 scores {m['scores']:.3f}, "
              f"{np.mean(seconds):.3f} s per iteration", flush=True)

    all_seconds = [s for r in runs for s in r["iteration_seconds"]]
    result = {
        "baseline": "python rf (scikit-learn RandomForestRegressor 100 trees, depth 8, "
                    "2048-bit Morgan r2), greedy",
        "library_size": n, "init": init, "batch": batch, "iterations": args.iters,
        "jobs": args.jobs, "featurize_seconds": featurize_seconds,
        "seconds_per_iteration": float(np.mean(all_seconds)),
        "runs": runs,
    }
    for key in ("scores", "smiles", "avg"):
        values = [r["metrics"][key] for r in runs]
        result[key] = {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1))
                       if len(values) > 1 else 0.0}
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
