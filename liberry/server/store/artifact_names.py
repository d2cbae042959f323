"""Artifact names as users and clients write them: `name`, `name:alias`, `name:v3`."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from .errors import StoreError

_VERSION = re.compile(r"^v(\d+)$")
_NAME = re.compile(r"^[\w.-]{1,255}$")
_ALIAS = re.compile(r"^[^/:]{1,128}$")
_HEX_DIGEST = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """A collection and what picks one version of it: an alias, `vN`, or a digest."""

    collection: str
    alias: str  # `latest` when the name had none

    @property
    def version_index(self) -> int | None:
        match = _VERSION.match(self.alias)
        return int(match.group(1)) if match else None

    @property
    def digest(self) -> str | None:
        return self.alias if _HEX_DIGEST.match(self.alias) else None


def parse_artifact_name(name: str) -> ArtifactRef:
    """`name[:alias]` -> ArtifactRef; anything else fails with a message naming it."""
    if not isinstance(name, str) or not name:
        raise StoreError("an artifact name is required, like 'dataset' or 'dataset:v2'")
    parts = name.split(":")
    if len(parts) > 2:
        raise StoreError(
            f"malformed artifact name {name!r}: use 'name', 'name:alias' or 'name:vN' "
            "(one ':' at most)"
        )
    collection = validate_collection_name(parts[0])
    alias = parts[1] if len(parts) == 2 else "latest"
    validate_alias(alias)
    return ArtifactRef(collection, alias)


def validate_collection_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise StoreError(
            f"invalid artifact name {name!r}: use letters, digits, '-', '_' and '.' "
            "(at most 255 characters)"
        )
    return name


def validate_alias(alias: str) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise StoreError(f"invalid artifact alias {alias!r}: 1-128 characters without '/' or ':'")
    return alias


def is_version_alias(alias: str) -> bool:
    """`v0`, `v1`, ...: these name versions and cannot be assigned by hand."""
    return bool(_VERSION.match(alias))


def b64_md5_to_hex(digest: str, what: str) -> str:
    """W&B sends md5s as base64 (`LBhReeDAhD6M6veJIfOSsw==`); blobs are named in hex."""
    try:
        raw = base64.b64decode(digest.encode(), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 16:
        raise StoreError(f"{what}: {digest!r} is not a base64 md5 digest")
    return raw.hex()


def hex_to_b64_md5(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()
