#!/usr/bin/python3
"""Why raw SMILES samples fail: RDKit's reason for each invalid line of a file written by
`labloop bench generators --raw FILE` (an empty line is a sample that never ended).

Usage: /usr/bin/python3 bench/lm_failures.py FILE
"""
import collections
import io
import logging
import sys

from rdkit import Chem, rdBase

REASONS = [  # (text in RDKit's message, the reason reported)
    ("unclosed ring", "unclosed ring"),
    ("Explicit valence", "atom over its valence"),
    ("kekulize", "aromatic ring that cannot be kekulized"),
    ("non-ring atom", "non-ring atom marked aromatic"),
]


def main(path):
    rdBase.LogToPythonLogger()
    messages = io.StringIO()
    logger = logging.getLogger("rdkit")
    logger.addHandler(logging.StreamHandler(messages))
    logger.setLevel(logging.DEBUG)
    counts = collections.Counter()
    with open(path) as lines:
        for line in lines:
            smiles = line.rstrip("\n")
            if not smiles:
                counts["ran past the token limit without ending"] += 1
                continue
            messages.seek(0)
            messages.truncate()
            if Chem.MolFromSmiles(smiles) is not None:
                counts["valid"] += 1
                continue
            text = messages.getvalue()
            reason = next((r for key, r in REASONS if key in text), "other parse errors")
            counts[reason] += 1
    total = sum(counts.values())
    for reason, count in counts.most_common():
        print(f"{count:8d}  {reason}")
    print(f"{total:8d}  samples")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
