"""File bytes on disk under the data dir, and signed URLs to upload or download them.

Upload and download URLs are pre-signed (HMAC over method, path and expiry) because W&B's
client sends no credentials with its PUTs to upload URLs nor with artifact GETs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from .store.files import validate_file_name

URL_LIFETIME_S = 24 * 3600


class Blobs:
    """Run files stored as `<root>/runs/<run pk>/<name>`."""

    def __init__(self, root: Path, secret: bytes) -> None:
        self.root = root
        self.secret = secret
        (root / "runs").mkdir(parents=True, exist_ok=True)

    def run_file_path(self, run_pk: int, name: str) -> Path:
        return self.root / "runs" / str(run_pk) / validate_file_name(name)

    # -- signing -----------------------------------------------------------------------
    def _sign(self, method: str, path: str, expires: int) -> str:
        mac = hmac.new(self.secret, f"{method} {path} {expires}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:18]).decode()

    def signed_path(self, method: str, run_pk: int, name: str) -> str:
        path = f"/storage/runs/{run_pk}/{quote(name)}"
        expires = int(time.time()) + URL_LIFETIME_S
        return f"{path}?exp={expires}&sig={self._sign(method, path, expires)}"

    def signed_query(self, method: str, key: str) -> str:
        """`exp=..&sig=..` signing `key` (any stable string naming the resource) for `method`;
        checked with `verify(method, key, exp, sig)`."""
        expires = int(time.time()) + URL_LIFETIME_S
        return f"exp={expires}&sig={self._sign(method, key, expires)}"

    def verify(self, method: str, path: str, exp: str | None, sig: str | None) -> str | None:
        """None when the signature holds, else a message saying why the URL is refused."""
        if not exp or not sig:
            return "this storage URL is not signed: ask the API for a fresh upload/download URL"
        try:
            expires = int(exp)
        except ValueError:
            return "malformed storage URL expiry"
        if expires < time.time():
            return "this storage URL has expired: ask the API for a fresh one"
        if not hmac.compare_digest(self._sign(method, path, expires), sig):
            return "invalid storage URL signature"
        return None

    # -- bytes ---------------------------------------------------------------------------
    def write(self, run_pk: int, name: str, data: bytes) -> tuple[int, str]:
        """Write atomically (temp file + rename); returns (size, base64 md5)."""
        target = self.run_file_path(run_pk, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return len(data), base64.b64encode(hashlib.md5(data).digest()).decode()

    def delete_run(self, run_pk: int) -> None:
        import shutil

        shutil.rmtree(self.root / "runs" / str(run_pk), ignore_errors=True)
