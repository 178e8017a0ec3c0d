"""QC writes (HackSoft style): typed, keyword-only ``<entity>_<action>`` functions.

Each runs in one transaction with its audit events; views, serializers, tasks and
the admin call these and hold no business logic themselves.  Import them from
their modules (``qc.services.ingestion``, ``.lots``, ``.runs``, ``.specifications``,
``.master``, ``.evaluation``, ``.impact``): this package re-exports nothing, so
importing one service never imports all the others (nor ``qc.tasks`` through them).
"""
