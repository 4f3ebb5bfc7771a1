"""Row cleaning in a second process, for big files on a machine with more than one core.

Cleaning (phones, dates, e-mails, points) is pure Python and holds the GIL, so a thread cannot
overlap it with reading and writing; a forked process can. The importing process reads the file,
sends chunks of raw rows to the cleaner process in order, and takes the cleaned chunks back in the
same order, so duplicates, row numbers and messages are exactly those of cleaning in-process.

The cleaner process only computes: it never touches the database (the transaction, the claims
and every write stay in the importing process). If it dies, the import fails and its transaction
rolls back like any other failure. Small files, one-core machines and processes that may not fork
(daemonic workers) clean in-process (`clean_chunks` decides)."""

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from django.conf import settings
from django.utils import translation

from .cleaning import RowCleaner

logger = logging.getLogger(__name__)

CLEAN_CHUNK_ROWS = 2000
IN_FLIGHT = 3  # chunks handed to the cleaner ahead of the one being consumed

_cleaner: RowCleaner | None = None


def _start(cleaner: RowCleaner, language: str | None) -> None:
    global _cleaner
    _cleaner = cleaner
    if language:
        translation.activate(language)


def _clean(rows: list) -> list:
    clean = _cleaner.clean
    return [(number, *clean(number, cells)) for number, cells in rows]


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def use_second_process(size: int) -> bool:
    """Whether a file of `size` bytes is cleaned in a second process."""
    threshold = settings.IMPORT_PARALLEL_MIN_BYTES
    if threshold <= 0 or size < threshold or (os.cpu_count() or 1) < 2:
        return False
    if multiprocessing.current_process().daemon:
        return False  # a daemonic process may not have children
    return "fork" in multiprocessing.get_all_start_methods()


def clean_chunks(rows: Iterable, cleaner: RowCleaner, *, parallel: bool) -> Iterator[list]:
    """Yield lists of (row number, record or None, errors) in file order, chunk by chunk.
    Exceptions of the reader (a broken file) propagate from here as they would in-process."""
    if not parallel:
        for chunk in _chunks(rows, CLEAN_CHUNK_ROWS):
            yield [(number, *cleaner.clean(number, cells)) for number, cells in chunk]
        return
    # fork: the child gets the cleaner (and Django) as they are, nothing is pickled but rows.
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start,
        initargs=(cleaner, translation.get_language()),
    )
    pending = deque()
    try:
        for chunk in _chunks(rows, CLEAN_CHUNK_ROWS):
            pending.append(pool.submit(_clean, chunk))
            if len(pending) > IN_FLIGHT:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
