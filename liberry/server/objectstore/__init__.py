"""Where the server keeps file bytes: a directory (default) or an S3-compatible bucket.

`open_object_store(url, files_dir)` turns `--storage` / `LIBERRY_STORAGE` into the
`ObjectStore` that run files (`blobs.py`) and artifact blobs (`artifact_storage.py`) share.
"""

from __future__ import annotations

from pathlib import Path

from .base import (
    DigestMismatch,
    KeyFor,
    ObjectStore,
    ObjectStream,
    StorageError,
    Stored,
    UploadTooLarge,
)
from .local import LocalObjectStore

__all__ = [
    "DigestMismatch",
    "KeyFor",
    "LocalObjectStore",
    "ObjectStore",
    "ObjectStream",
    "StorageError",
    "Stored",
    "UploadTooLarge",
    "open_object_store",
]


def open_object_store(url: str | None, files_dir: Path) -> ObjectStore:
    """The storage `url` names (`s3://bucket/prefix`, or None/empty for files under
    `files_dir`), checked: StorageError (one line) when it cannot be used."""
    text = (url or "").strip()
    if not text:
        store: ObjectStore = LocalObjectStore(files_dir)
    elif text.startswith("s3://"):
        from .s3 import S3ObjectStore

        store = S3ObjectStore(text)
    elif text.startswith(("file://", "/")):
        store = LocalObjectStore(Path(text.removeprefix("file://")).expanduser())
    else:
        raise StorageError(
            f"unsupported storage URL {url!r}: use s3://bucket/prefix (S3, MinIO, Ceph, R2) "
            "or leave it unset to keep files under the data dir"
        )
    store.check()
    return store
