"""The file-level failure of an import: nothing is written and one message explains why."""


class ImportFileError(Exception):
    """The file cannot be imported as a whole (unreadable, empty, no phone column, too big)."""


class NoPhoneColumn(ImportFileError):
    """No column of the file (or of this sheet) holds the phone: the next sheet may."""
