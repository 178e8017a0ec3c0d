"""Worked examples of European Pharmacopoeia chapter 5.3, as ``raw_data`` a result posts.

Source of the data and of the published results: the CRAN package ``pla`` (Jens
Henrik Badsberg, "Parallel Line Assays"), which ships the Ph. Eur. 5.3 examples
with the results published in Ph. Eur. 5.3 and by EDQM's CombiStats:
``inst/vignettes/PhEur/data/CorticotrophinST.txt``, ``Corticotrophin.txt``,
``AntibioticTurbidimetric.txt``, ``AntibioticAgarDiffusionAssay.txt`` and ``Agar.txt``,
``HepatitisB.txt`` (github.com/cran/pla, commit 181f8575). The Ph. Eur. section is
named with each example. Doses are written in the unit that makes the relative
potency the potency relative to the assumed potency ("ReltoAss" in ``pla``).
"""

from __future__ import annotations

from typing import Any

Points = list[dict[str, Any]]

# -- 5.1.1 Two-dose multiple assay, completely randomised: corticotrophin in rats -----
# Standard S and test preparations T, U at 0.25 and 1.0 units per 100 g; ten rats per
# treatment. Columns S1 S2 T1 T2 U1 U2 (low dose, high dose).
_CORTICOTROPHIN = """
300 289 310 230 250 236
310 221 290 210 268 213
330 267 360 280 273 283
290 236 341 261 240 269
364 250 321 241 307 251
328 231 370 290 270 294
390 229 303 223 317 223
360 269 334 254 312 250
342 233 295 216 320 216
306 259 315 235 265 265
"""


def _columns(table: str) -> list[list[int]]:
    rows = [[int(v) for v in line.split()] for line in table.strip().splitlines()]
    return [list(column) for column in zip(*rows, strict=True)]


def _two_dose(low: list[int], high: list[int]) -> Points:
    return [{"dose": 0.25, "response": r} for r in low] + [
        {"dose": 1.0, "response": r} for r in high
    ]


_C = _columns(_CORTICOTROPHIN)
CORTICOTROPHIN_S = _two_dose(_C[0], _C[1])
CORTICOTROPHIN_T = _two_dose(_C[2], _C[3])
CORTICOTROPHIN_U = _two_dose(_C[4], _C[5])

# Published (pla CorticotrophinST.txt, U omitted): T 1.11181 units/mg, 95 % limits
# 0.824973-1.51357; non-parallelism F = 0.046, p = 0.831; 36 residual df.
CORTICOTROPHIN_ST = {"reference": CORTICOTROPHIN_S, "sample": CORTICOTROPHIN_T}
# Published (pla Corticotrophin.txt, S, T and U): non-parallelism F = 5.367, p = 0.007
# on 2 and 54 df: Ph. Eur. rejects the assay as it stands (U is not parallel).
CORTICOTROPHIN_STU = {
    "reference": CORTICOTROPHIN_S,
    "samples": {"T": CORTICOTROPHIN_T, "U": CORTICOTROPHIN_U},
}

# -- 5.1.3 Four-dose randomised block design: antibiotic turbidimetric assay --------
# Standard 670 IU/mg, 16.7 mg in 25 mL; test assumed 20 000 IU/vial, one vial in
# 40 mL; same dilutions (1/40, ratio 1.5). Five blocks; columns S1-S4, T1-T4 from the
# lowest dose. Doses here in IU/mL (assumed for T), so potency % is relative to the
# assumed 20 000 IU/vial.
_TURBIDIMETRIC = """
252 207 168 113 242 206 146 115
249 201 187 107 236 197 153 102
247 193 162 111 246 197 148 104
250 207 155 108 231 191 159 106
235 207 140  98 232 186 146  95
"""
_TURBIDIMETRIC_S = 670 * 16.7 / 25
_TURBIDIMETRIC_T = 20000 / 40


def _turbidimetric() -> dict[str, Points]:
    rows = [[int(v) for v in line.split()] for line in _TURBIDIMETRIC.strip().splitlines()]
    standard: Points = []
    test: Points = []
    for block, row in enumerate(rows, start=1):
        for step in range(4):
            dilution = 1.5 ** (step - 3) / 40  # the highest dose is the 1/40 dilution
            standard.append(
                {"dose": _TURBIDIMETRIC_S * dilution, "response": row[step], "block": block}
            )
            test.append(
                {"dose": _TURBIDIMETRIC_T * dilution, "response": row[4 + step], "block": block}
            )
    return {"reference": standard, "sample": test}


# Published (pla AntibioticTurbidimetric.txt): 19 228.5 IU/vial, 95 % limits
# 18 423.4-20 075.2 (96.1 % of assumed, 92.1-100.4); blocks F = 4.065; 28 residual df.
TURBIDIMETRIC = _turbidimetric()
TURBIDIMETRIC_ASSUMED_IU_PER_VIAL = 20000

# -- 5.1.2 Three-dose Latin square: antibiotic agar diffusion assay -----------------
# Standard 4855 IU/mg, 25.2 mg in 24.5 mL; test assumed 5600 IU/mg, 21.4 mg in
# 23.95 mL; both diluted 1/20 then by 1.5. (row, column, preparation, dilution step
# 1 = lowest dose, response = inhibition zone in mm x 10).
_AGAR = """
1 1 S 1 161
2 1 T 1 151
3 1 T 2 162
4 1 S 3 194
5 1 S 2 176
6 1 T 3 193
1 2 T 1 160
2 2 T 3 192
3 2 S 3 195
4 2 S 2 184
5 2 T 2 181
6 2 S 1 166
1 3 T 2 178
2 3 S 1 150
3 3 S 2 174
4 3 T 3 199
5 3 S 3 201
6 3 T 1 161
1 4 S 3 187
2 4 S 2 172
3 4 S 1 161
4 4 T 1 160
5 4 T 3 202
6 4 T 2 186
1 5 S 2 171
2 5 T 2 170
3 5 T 3 193
4 5 S 1 163
5 5 T 1 154
6 5 S 3 198
1 6 T 3 194
2 6 S 3 192
3 6 T 1 151
4 6 T 2 171
5 6 S 1 151
6 6 S 2 182
"""
_AGAR_S = 4855 * 25.2 / 24.5
_AGAR_T = 5600 * 21.4 / 23.95


def _agar() -> dict[str, Points]:
    standard: Points = []
    test: Points = []
    for line in _AGAR.strip().splitlines():
        row, column, preparation, step, response = line.split()
        dilution = 1.5 ** (int(step) - 3) / 20  # the highest dose is the 1/20 dilution
        point = {"response": int(response), "row": row, "column": column}
        if preparation == "S":
            standard.append({**point, "dose": _AGAR_S * dilution})
        else:
            test.append({**point, "dose": _AGAR_T * dilution})
    return {"reference": standard, "sample": test}


# Published (pla Agar.txt): 5456.37 IU/mg, 95 % limits 5092.37-5843.36 (97.4 % of the
# assumed 5600 IU/mg, 90.9-104.3); rows F = 3.968, columns F = 2.106; 20 residual df.
AGAR = _agar()
AGAR_ASSUMED_IU_PER_MG = 5600

# -- 5.1.4 Five-dose multiple assay, completely randomised: hepatitis B vaccine ELISA -
# Three vaccines T, U, V against a standard S; three independent two-fold dilution
# series of five dilutions each; optical densities, ln-transformed (Ph. Eur.: the
# logarithms of the optical densities are linear in log dose).
_HEPATITIS_B = """
S 0.043 0.093 0.159 0.283 0.514
S 0.045 0.099 0.154 0.295 0.531
S 0.051 0.082 0.166 0.362 0.545
T 0.097 0.167 0.327 0.501 1.140
T 0.097 0.157 0.355 0.665 1.386
T 0.094 0.178 0.345 0.576 1.051
U 0.086 0.127 0.277 0.586 0.957
U 0.071 0.146 0.268 0.489 0.866
U 0.073 0.133 0.269 0.546 1.045
V 0.082 0.145 0.318 0.552 1.037
V 0.082 0.144 0.306 0.551 1.039
V 0.086 0.173 0.316 0.624 1.068
"""


def _hepatitis_b() -> dict[str, Points]:
    preparations: dict[str, Points] = {}
    for line in _HEPATITIS_B.strip().splitlines():
        name, *values = line.split()
        preparations.setdefault(name, []).extend(
            {"dose": 2**step, "response": value} for step, value in enumerate(values)
        )
    return preparations


_HB = _hepatitis_b()
# Published (pla HepatitisB.txt): relative to the standard T 217.1 % (202.7-232.7),
# U 175.8 % (164.3-188.2), V 197.0 % (184.1-211.0); non-parallelism F = 0.933,
# p = 0.434; non-linearity F = 0.926, p = 0.531; 40 residual df.
HEPATITIS_B = {"reference": _HB["S"], "samples": {name: _HB[name] for name in "TUV"}}


def hepatitis_b_pair(name: str) -> dict[str, Points]:
    """One vaccine against the standard alone (the pair-by-pair analysis)."""
    return {"reference": _HB["S"], "sample": _HB[name]}


# -- 6.4 Weighted mean potency of six independent assays ------------------------------
# Ph. Eur. 5.3 §6.4 (Table 6.4.-I), as reproduced in the Czech Pharmacopoeia 1997
# (lekopis.cz/Kap_5_3_6_4.htm) and the Farmacopea Argentina, 7th ed., vol. IV:
# potency (IU/vial), lower and upper 95 % limits, 20 residual df each. Published:
# weights 3777.7, 3951.5, 2462.5, 4003.0, 3175.6, 4699.5; chi-square 4.42 on 5 df
# (p = 0.49); weighted mean 18 187 IU/vial, limits 17 946-18 431 (t on 120 df).
SIX_ASSAYS = [
    (18367, 17755, 19002),
    (18003, 17415, 18610),
    (18064, 17319, 18838),
    (17832, 17253, 18429),
    (18635, 17959, 19339),
    (18269, 17722, 18834),
]
