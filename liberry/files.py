"""A run's files: listing, download (streamed, checksummed, atomic) and upload."""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from . import queries
from ._repr import html_table, human_size
from .errors import NotFoundError, ServerError, UsageError
from .paging import Page, Paginator
from .paths import RunPath
from .session import Session, SessionOwner, session_of

__all__ = ["File", "Files", "get_file", "upload_file"]

_CHUNK = 1 << 20
#: A body up to this size is read in one piece: urllib3 hands a read back without copying
#: it only when it is exactly the size asked for, so asking for 1 MiB of a 1 MB file would
#: copy it twice more (about 0.3 ms per MB).
_WHOLE = 4 << 20
#: Downloads larger than this show a progress bar (unless `progress=False`).
_PROGRESS_BYTES = 10 * 1000 * 1000


class File:
    """A file saved with a run: `name`, `size`, `md5` (base64), `url`; `download()` it."""

    def __init__(
        self, session: Session | SessionOwner, run: RunPath, attrs: dict[str, Any]
    ) -> None:
        self._session = session_of(session)
        self.run_path = run
        self._attrs = attrs
        self.id: str = attrs.get("id", "")
        self.name: str = attrs["name"]
        self.size: int | None = (
            int(attrs["sizeBytes"]) if attrs.get("sizeBytes") is not None else None
        )
        self.md5: str | None = attrs.get("md5")
        self.mimetype: str | None = attrs.get("mimetype")
        self.updated_at: str | None = attrs.get("updatedAt")
        self.url: str | None = attrs.get("url") or attrs.get("directUrl")
        self.direct_url: str | None = attrs.get("directUrl")

    def _target(self, root: str | Path) -> Path:
        parts = PurePosixPath(self.name).parts
        if not parts or PurePosixPath(self.name).is_absolute() or ".." in parts:
            raise UsageError(f"refusing to write {self.name!r} outside {root!s}")
        return Path(root, *parts)

    def download(
        self,
        root: str | Path = ".",
        replace: bool = False,
        exist_ok: bool = False,
        progress: bool | None = None,
    ) -> Path:
        """Save the file under `root` (keeping its sub-directories) and return the path.

        An existing file is an error unless `replace` (download again) or `exist_ok` (keep
        it). The download is streamed to a temporary file, checked against the server's md5
        when it has one, then moved into place, so a failure never leaves a partial file.
        """
        from tqdm.auto import tqdm

        target = self._target(root)
        if not replace and target.exists():
            if exist_ok:
                return target
            raise UsageError(
                f"{target} already exists; pass replace=True to overwrite it or exist_ok=True "
                "to keep it"
            )
        if not self.url:
            raise NotFoundError(f"the server gave no download URL for {self.name!r}")
        client = self._session.client
        url = urlsplit(self.url)
        # The key goes only to our own server, and not with a signed URL (which admits the
        # request by itself): checking a key costs the server a lookup per file.
        send_key = url.netloc == urlsplit(client.base_url).netloc and "sig=" not in url.query
        response = client.request(
            "GET", self.url, stream=True, auth=send_key, what=f"download of {self.name!r}"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        show = (self.size or 0) > _PROGRESS_BYTES if progress is None else progress
        bar = tqdm(total=self.size, unit="B", unit_scale=True, desc=self.name) if show else None
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with response, os.fdopen(fd, "wb") as out:
                got = _save(response, out, self.size, bar)
            if self.md5 and got != self.md5:
                raise ServerError(
                    f"download of {self.name!r} is corrupt: md5 {got} but the server says "
                    f"{self.md5}; try again with replace=True"
                )
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        finally:
            if bar is not None:
                bar.close()
        return target

    def __repr__(self) -> str:
        return f"<File {self.name} ({human_size(self.size)})>"


def _save(response: Any, out: BinaryIO, size: int | None, bar: Any) -> str:
    """Write the body to `out`, hashing it on the way; its md5, base64 as W&B sends it."""
    digest = hashlib.md5(usedforsecurity=False)
    chunk = size if size and size <= _WHOLE else _CHUNK
    for piece in response.iter_content(chunk):
        out.write(piece)  # a piece over the buffer's size goes to the file uncopied
        digest.update(piece)
        if bar is not None:
            bar.update(len(piece))
    return base64.b64encode(digest.digest()).decode()


class Files(Paginator[File]):
    """The files of one run, lazily paged."""

    def __init__(
        self,
        session: Session | SessionOwner,
        run: RunPath,
        names: list[str] | None = None,
        per_page: int = 50,
    ) -> None:
        super().__init__(per_page)
        self._session = session_of(session)
        self.run_path = run
        self.names = list(names) if names else []

    def _fetch(self, cursor: str | None, first: int, with_count: bool) -> Page[File]:
        run = self.run_path
        data = self._session.client.execute(
            queries.RUN_FILES,
            {
                "entity": run.entity,
                "project": run.project,
                "name": run.run_id,
                "fileNames": self.names,
                "cursor": cursor,
                "perPage": first,
            },
        )
        node = (data.get("project") or {}).get("run")
        if node is None:
            raise NotFoundError(f"run {run} not found at {self._session.client.where}")
        # fileCount counts every file of the run, so it is the total only without `names`.
        total = None if self.names else node.get("fileCount")
        return Page.of(node.get("files"), lambda n: File(self._session, run, n), total)

    def __repr__(self) -> str:
        return f"<Files of {self.run_path}>"

    def _repr_html_(self) -> str:
        rows = [(f.name, human_size(f.size), f.updated_at) for f in self]
        return html_table(("name", "size", "updated_at"), rows, caption=f"files of {self.run_path}")


def get_file(session: Session, run: RunPath, name: str) -> File:
    """One file of `run` by name, or `NotFoundError`."""
    for file in Files(session, run, names=[name], per_page=1):
        if file.name == name:
            return file
    raise NotFoundError(
        f"run {run} has no file {name!r}; run.files() lists its files",
    )


def upload_file(session: Session, run: RunPath, path: Path, root: Path) -> File:
    """Upload `path` to `run` as `path` relative to `root` (W&B's createRunFiles + PUT)."""
    if not path.is_file():
        raise UsageError(f"{path} is not a file")
    try:
        name = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise UsageError(f"{path} is not inside root {root}") from None
    data = session.client.execute(
        queries.CREATE_RUN_FILES,
        {"entity": run.entity, "project": run.project, "name": run.run_id, "files": [name]},
    )
    payload = data.get("createRunFiles") or {}
    slots = {f["name"]: f.get("uploadUrl") for f in payload.get("files") or []}
    url = slots.get(name)
    if not url:
        raise ServerError(f"the server gave no upload URL for {name!r} in run {run}")
    headers = dict(h.split(":", 1) for h in payload.get("uploadHeaders") or [] if ":" in h)
    # Upload URLs are pre-signed: no Authorization header (as wandb does). The body is bytes,
    # not a file object, so a retried PUT sends it again in full.
    session.client.request(
        "PUT", url, data=path.read_bytes(), headers=headers, auth=False, what=f"upload of {name!r}"
    )
    return get_file(session, run, name)
