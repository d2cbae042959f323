"""The search-syntax cases both parsers are checked against (`cases.json`, also read by
`js/runs/query/*.test.ts`), so the Python and TypeScript sides agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from liberry_widgets.runs.query import KeyContext

CASES: dict[str, Any] = json.loads((Path(__file__).parent / "cases.json").read_text())
KEYS = KeyContext(config=CASES["keys"]["config"], summary=CASES["keys"]["summary"])
