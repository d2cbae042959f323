"""`Operation`: a named GraphQL document, the unit the transport sends."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    """A named GraphQL operation.

    `name` is sent as `operationName` (servers log and meter by it); `document` is the full
    text, fragments included.
    """

    name: str
    document: str

    @property
    def is_mutation(self) -> bool:
        """Whether sending it twice could change more than sending it once."""
        return self.document.lstrip().startswith("mutation")

    @classmethod
    def build(cls, name: str, body: str, *fragments: str) -> Operation:
        """Join an operation body with the fragments it spreads."""
        return cls(name, "\n".join([body.strip(), *(f.strip() for f in fragments)]) + "\n")
