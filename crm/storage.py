"""Where uploaded client bases wait for their run: a private folder outside any served path.

Files are 0600 and folders 0700 (readable by the service's own user only), under
IMPORT_UPLOAD_ROOT (never MEDIA_ROOT, which a web server may publish). A run deletes its file
when it ends; a dry run's file waits for the confirmation up to IMPORT_UPLOAD_RETENTION_HOURS,
after which the periodic clean-up (`crm.importing.cleanup`) deletes it."""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class PrivateUploadStorage(FileSystemStorage):
    """FileSystemStorage rooted at IMPORT_UPLOAD_ROOT (read at use, so tests can move it),
    with no URL: a stored client base is never served."""

    def __init__(self):
        super().__init__(
            base_url=None, file_permissions_mode=0o600, directory_permissions_mode=0o700
        )

    @property
    def base_location(self):
        return str(settings.IMPORT_UPLOAD_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("uploaded client bases are private and have no URL")

    def _save(self, name, content):
        os.makedirs(self.location, mode=0o700, exist_ok=True)
        os.chmod(self.location, 0o700)
        return super()._save(name, content)


def import_upload_storage() -> PrivateUploadStorage:
    """The storage of ImportBatch.file (a callable, so migrations do not record a path)."""
    return PrivateUploadStorage()
