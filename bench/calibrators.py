#!/usr/bin/python3
"""Calibrators tried outside the bench, seed by seed, on the predictions that
`labloop bench predictors --predictions FILE.csv` writes (test rows under "random" and
"scaffold", the validation rows the calibrators are fitted on under "random-validation" and
"scaffold-validation", and the training rows' leave-one-out predictions (the GP, always) or
cross-fitted ones (other models, with --calibration-folds) under "random-train-heldout" and
"scaffold-train-heldout").

Each calibrator maps the raw σ to a calibrated one, fitted on a split's validation rows (and,
where the file has them, again on those beside the held-out training rows) and scored on its test rows with labloop's own miscalibration area (learners/metrics.cpp: central
intervals, 1,001-point trapezoid) and Gaussian NLL.

    /usr/bin/python3 bench/calibrators.py predictions.csv
"""
import csv
import sys

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import erf
from sklearn.isotonic import IsotonicRegression


def area(y, mean, sigma):
    q = np.sort(erf(np.abs(y - mean) / (sigma * np.sqrt(2))))
    p = np.linspace(0, 1, 1001)
    d = np.abs(np.searchsorted(q, p, side="right") / len(q) - p)
    return float(np.sum(0.5 * (d[1:] + d[:-1]) * np.diff(p)))


def nll(y, mean, sigma):
    return float(np.mean(0.5 * np.log(2 * np.pi * sigma**2) + 0.5 * ((y - mean) / sigma) ** 2))


# Each takes the validation σ and residuals and returns σ -> calibrated σ.
def none(s, r):
    return lambda x: x


def scale_by_likelihood(s, r):  # labloop's sigma_scaling without its floor
    a = np.sqrt(np.mean(r**2 / s**2))
    return lambda x: a * x


def scale_by_area(s, r):  # the one scale whose validation miscalibration area is least
    fit = minimize_scalar(lambda la: area(r, 0 * r, np.exp(la) * s), bounds=(-3, 3),
                          method="bounded")
    return lambda x: np.exp(fit.x) * x


def power_by_likelihood(s, r):  # a σ^p
    t = minimize(lambda t: nll(r, 0 * r, np.exp(t[0]) * s ** t[1]), [0, 1],
                 method="Nelder-Mead").x
    return lambda x: np.exp(t[0]) * x ** t[1]


def power_by_area(s, r):
    start = [np.log(np.sqrt(np.mean(r**2 / s**2))), 1]
    t = minimize(lambda t: area(r, 0 * r, np.exp(t[0]) * s ** t[1]), start,
                 method="Nelder-Mead").x
    return lambda x: np.exp(t[0]) * x ** t[1]


def isotonic(s, r):  # σ'² non-decreasing in σ, as labloop's (without its minimum block size)
    fit = IsotonicRegression(out_of_bounds="clip").fit(s, r**2)
    return lambda x: np.sqrt(np.maximum(fit.predict(x), 1e-6))


CALIBRATORS = [none, scale_by_likelihood, scale_by_area, power_by_likelihood, power_by_area,
               isotonic]


def main(path):
    # A file still being written may end in a partial row.
    rows = [x for x in csv.DictReader(open(path)) if x["sigma_aleatoric"]]

    def part(split, seed):
        r = [x for x in rows if x["split"] == split and x["seed"] == seed]
        y = np.array([float(x["y"]) for x in r])
        mean = np.array([float(x["mean"]) for x in r])
        sigma = np.hypot([float(x["sigma_epistemic"]) for x in r],
                         [float(x["sigma_aleatoric"]) for x in r])
        return y, mean, sigma

    for split in ["random", "scaffold"]:
        seeds = sorted({x["seed"] for x in rows if x["split"] == split})
        if not seeds:
            continue
        sources = [[split + "-validation"]]
        if any(x["split"] == split + "-train-heldout" for x in rows):
            sources.append([split + "-validation", split + "-train-heldout"])
        for source in sources:
            print(f"{split} split, {len(seeds)} seed(s), fitted on {' + '.join(source)}: "
                  "test miscalibration area (per seed), NLL")
            for calibrator in CALIBRATORS:
                scores = []
                for seed in seeds:
                    fit = [part(name, seed) for name in source]
                    yv, mv, sv = (np.concatenate([f[k] for f in fit]) for k in range(3))
                    yt, mt, st = part(split, seed)
                    calibrated = calibrator(sv, yv - mv)(st)
                    scores.append((area(yt, mt, calibrated), nll(yt, mt, calibrated)))
                a = np.array(scores)
                spread = a[:, 0].std(ddof=1) if len(a) > 1 else 0.0
                print(f"  {calibrator.__name__:20s} {a[:, 0].mean():.3f} ± {spread:.3f} "
                      f"({' '.join(f'{v:.3f}' for v in a[:, 0])})  NLL {a[:, 1].mean():.2f}")


if __name__ == "__main__":
    main(sys.argv[1])
