"""QC writes (HackSoft style): typed, keyword-only ``<entity>_<action>`` functions.

Each runs in one transaction with its audit events; views, serializers, tasks and
the admin call these and hold no business logic themselves.
"""

from qc.services.errors import InputError, InvalidInput, NotAllowed, NotFound, StateConflict
from qc.services.ingestion import ResultsReceipt, results_record
from qc.services.lots import lot_create, lot_rebind_specification
from qc.services.master import master_data_save
from qc.services.runs import assay_run_record
from qc.services.specifications import (
    specification_approve,
    specification_create_draft,
    specification_line_add,
    specification_new_draft,
    specification_withdraw,
)

__all__ = [
    "InputError",
    "InvalidInput",
    "NotAllowed",
    "NotFound",
    "ResultsReceipt",
    "StateConflict",
    "assay_run_record",
    "lot_create",
    "lot_rebind_specification",
    "master_data_save",
    "results_record",
    "specification_approve",
    "specification_create_draft",
    "specification_line_add",
    "specification_new_draft",
    "specification_withdraw",
]
