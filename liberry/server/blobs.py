"""Run files in the server's object store, and signed URLs to upload or download them.

Upload and download URLs are pre-signed (HMAC over method, path and expiry) because W&B's
client sends no credentials with its PUTs to upload URLs nor with artifact GETs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path
from urllib.parse import quote

from .objectstore import LocalObjectStore, ObjectStore
from .store.files import validate_file_name

URL_LIFETIME_S = 24 * 3600


class Blobs:
    """Run files stored as objects `runs/<run pk>/<name>` (artifact blobs share the store:
    see artifact_storage.py), and the secret that signs their URLs."""

    def __init__(self, root: Path, secret: bytes, objects: ObjectStore | None = None) -> None:
        self.root = root  # the data dir's files/: the default object store's directory
        self.secret = secret
        self.objects = objects if objects is not None else LocalObjectStore(root)

    @staticmethod
    def run_key(run_pk: int, name: str) -> str:
        return f"runs/{run_pk}/{validate_file_name(name)}"

    # -- signing -----------------------------------------------------------------------
    # A URL minted for a user carries `u=<user id>`, signed with the rest: the route checks
    # on use that this user still reaches the resource, so a URL stops working as soon as
    # its user leaves the team or is deleted, not when it expires a day later.
    def _sign(self, method: str, path: str, expires: int, user_id: str | None = None) -> str:
        message = f"{method} {path} {expires}" + (f" u{user_id}" if user_id else "")
        mac = hmac.new(self.secret, message.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:18]).decode()

    def signed_query(self, method: str, key: str, user_id: int | None = None) -> str:
        """`exp=..[&u=..]&sig=..` signing `key` (any stable string naming the resource) for
        `method` (and `user_id`); checked with `verify(method, key, exp, sig, u)`."""
        expires = int(time.time()) + URL_LIFETIME_S
        uid = None if user_id is None else str(user_id)
        user = "" if uid is None else f"&u={uid}"
        return f"exp={expires}{user}&sig={self._sign(method, key, expires, uid)}"

    def signed_path(self, method: str, run_pk: int, name: str, user_id: int | None = None) -> str:
        path = f"/storage/runs/{run_pk}/{quote(name)}"
        return f"{path}?{self.signed_query(method, path, user_id)}"

    def verify(
        self,
        method: str,
        path: str,
        exp: str | None,
        sig: str | None,
        user_id: str | None = None,
    ) -> str | None:
        """None when the signature holds, else a message saying why the URL is refused."""
        if not exp or not sig:
            return "this storage URL is not signed: ask the API for a fresh upload/download URL"
        try:
            expires = int(exp)
        except ValueError:
            return "malformed storage URL expiry"
        if expires < time.time():
            return "this storage URL has expired: ask the API for a fresh one"
        if not hmac.compare_digest(self._sign(method, path, expires, user_id), sig):
            return "invalid storage URL signature"
        return None

    def delete_run(self, run_pk: int) -> None:
        """Delete a deleted run's files (its artifacts' blobs are the artifacts' to delete)."""
        self.objects.delete_prefix(f"runs/{run_pk}/")
