"""Client-base import: readers (CSV/XLSX), header synonyms, row cleaning, the bulk writer,
the import service and import runs. Callers use the names below."""

from .batches import (
    import_batch_confirm,
    import_batch_create,
    import_batch_queue_failed,
    import_batch_run,
    import_batches_mark_stale,
    import_file_run,
    import_runs_in_worker,
    import_upload_discard,
    run_now_or_later,
)
from .errors import ImportFileError
from .progress import import_batch_progress, import_report_csv
from .service import ImportReport, clients_import

__all__ = [
    "ImportFileError",
    "ImportReport",
    "clients_import",
    "import_batch_confirm",
    "import_batch_create",
    "import_batch_progress",
    "import_batch_queue_failed",
    "import_batch_run",
    "import_batches_mark_stale",
    "import_file_run",
    "import_report_csv",
    "import_runs_in_worker",
    "import_upload_discard",
    "run_now_or_later",
]
