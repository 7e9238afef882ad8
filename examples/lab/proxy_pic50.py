#!/usr/bin/python3
"""A cheap, rough pIC50 estimate: the "simulation" route of examples/lab.

It knows part of the emulated assay's hidden ground truth (instruments/ground_truth.h: the
lipophilicity, aromatic ring and polarity terms) and misses the rest (molecular weight and donor
terms), so it is informative but biased, like a docking score or a QSAR model against a real
assay. One SMILES on stdin, one JSON object on stdout:
    echo 'CCO' | ./proxy_pic50.py    ->  {"pic50": 3.5}
"""
import json
import sys

from rdkit import Chem, RDLogger
from rdkit.Chem import Crippen, rdMolDescriptors

RDLogger.DisableLog("rdApp.*")
smiles = sys.stdin.readline().strip()
mol = Chem.MolFromSmiles(smiles)
if mol is None:
    print(json.dumps({"error": f"RDKit cannot parse '{smiles}'"}))
else:
    estimate = (5 + 0.5 * (Crippen.MolLogP(mol) - 2.5)
                + 0.35 * rdMolDescriptors.CalcNumAromaticRings(mol)
                - 0.012 * (rdMolDescriptors.CalcTPSA(mol) - 75))
    print(json.dumps({"pic50": min(9.5, max(3.5, estimate))}))
