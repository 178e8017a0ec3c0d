"""Bioassay statistics for relative potency: pure functions, no ORM, no I/O.

* :mod:`~qc.evaluation.bioassay.data` reads the dose-response data of a result;
* :mod:`~qc.evaluation.bioassay.parallel_line` is the closed-form parallel-line
  analysis of Ph. Eur. 5.3 §3.2 (ANOVA validity tests, Fieller limits);
* :mod:`~qc.evaluation.bioassay.logistic` fits the parallel four-parameter logistic
  (Ph. Eur. 5.3 §3.4; USP <1034>) with SciPy;
* :mod:`~qc.evaluation.bioassay.combine` combines independent assays (Ph. Eur. 5.3 §6);
* :mod:`~qc.evaluation.bioassay.report` holds what a line keeps, as plain JSON values.
"""
