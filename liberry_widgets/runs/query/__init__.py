"""The run table's search syntax, compiled to a MongoDB-style filter.

Mirrors `js/runs/query/` (the search box parses as you type; this side lets Python set
`widget.query` with no view open). Both are checked against
`tests/widgets/runs/query/cases.json`.

    lr>=0.01 optimizer:adam state:finished tag:baseline
    (state:crashed OR state:failed) NOT tag:debug
    resnet                      bare words search the run name
    state:running,finished      a comma list means "any of"
    {"config.lr": 0.1}          text starting with "{" is a raw JSON filter

Terms side by side are ANDed; AND binds tighter than OR; NOT (or a leading "-") negates.

    fields.py   the vocabulary: run fields, states, values, which key a bare key means
    lexer.py    text -> tokens
    parser.py   tokens -> filter
    text.py     filter -> text (what the box shows for a filter set from Python)
"""

from .fields import Filter, KeyContext, escape_regex, parse_scalar, resolve_key
from .lexer import QuerySyntaxError
from .parser import parse_query
from .text import format_query, normalize

__all__ = [
    "Filter",
    "KeyContext",
    "QuerySyntaxError",
    "escape_regex",
    "format_query",
    "normalize",
    "parse_query",
    "parse_scalar",
    "resolve_key",
]
