#!/usr/bin/python3
"""An external-command simulator for labloop: Crippen logP and TPSA with RDKit.

labloop writes one SMILES (a line) to stdin and reads one JSON object from stdout:
    echo 'CCO' | ./crippen.py      ->  {"logp": -0.0014, "tpsa": 20.23}
A molecule the program cannot handle is answered {"error": "..."}; labloop records the failure
and goes on. Use it in a campaign with (see campaign.toml here):
    [simulator]
    kind = "command"
    command = ["./crippen.py"]
    properties = ["logp", "tpsa"]
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
    print(json.dumps({"logp": Crippen.MolLogP(mol), "tpsa": rdMolDescriptors.CalcTPSA(mol)}))
