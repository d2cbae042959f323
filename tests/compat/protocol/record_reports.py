"""Record what W&B's report tools send for reports, and what liberry answers.

The recording proxy and flow runner of `record.py` (same line format as
`../shared/reference/wandb-protocol/captures/*.jsonl`), driving `wandb_workspaces.reports.v2`
and `wandb.Api().reports` in subprocesses. Output: `reports/*.jsonl` and `reports/flows.json`.

    .venv/bin/python tests/compat/protocol/record_reports.py
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.compat.protocol.record import ENTITY, Flows, RecordingProxy, write_jsonl  # noqa: E402

OUT = HERE / "reports"
PROJECT = "reports"

SAVE = f"""
# python: wandb_workspaces Report(project, entity, title, blocks=[H1, P, PanelGrid]).save()
import json
import wandb_workspaces.reports.v2 as wr
report = wr.Report(project={PROJECT!r}, entity={ENTITY!r}, title="Loss study",
                   description="two runs", blocks=[
    wr.H1("Results"), wr.P("The loss falls."),
    wr.PanelGrid(runsets=[wr.Runset(entity={ENTITY!r}, project={PROJECT!r})],
                 panels=[wr.LinePlot(x="Step", y=["loss"])])])
report.save()
print("RESULT", json.dumps(report.url))
"""

EDIT = """
# python: Report.from_url(url); edit title and blocks; save()
import json
import wandb_workspaces.reports.v2 as wr
report = wr.Report.from_url({url!r})
report.title = "Loss study, edited"
report.blocks = report.blocks + [wr.H2("Appendix")]
report.save()
print("RESULT", json.dumps(report.url))
"""

LIST = f"""
# python: wandb.Api().reports("{ENTITY}/{PROJECT}"), then name="nope"
import json, wandb
api = wandb.Api()
found = [(r.display_name, r.url) for r in api.reports("{ENTITY}/{PROJECT}")]
none = list(api.reports("{ENTITY}/{PROJECT}", name="nope"))
print("RESULT", json.dumps({{"found": found, "by_bad_name": len(none)}}))
"""

DELETE = """
# python: Report.from_url(url).delete()
import json
import wandb_workspaces.reports.v2 as wr
print("RESULT", json.dumps(wr.Report.from_url({url!r}).delete()))
"""

BAD = f"""
# python: wandb_workspaces' upsertView with a malformed spec, then view(id) of a missing report
import json, wandb
from wandb_workspaces._graphql import execute_graphql
from wandb_workspaces.reports.v2 import gql
api = wandb.Api()
out = []
for variables, query in [
    ({{"entityName": {ENTITY!r}, "projectName": {PROJECT!r}, "spec": '{{"blocks": ['}},
     gql.upsert_view),
    ({{"reportId": "Vmlldzo5OTk5OTk="}}, gql.view_report),
]:
    try:
        execute_graphql(api, query, variables)
        out.append("accepted")
    except Exception as exc:
        out.append(f"{{type(exc).__name__}}: {{str(exc)[:200]}}")
print("RESULT", json.dumps(out))
"""

SETUP = f"""
# python (unrecorded set-up): a run in {ENTITY}/{PROJECT}
import wandb
run = wandb.init(entity={ENTITY!r}, project={PROJECT!r}, name="run-0")
for step in range(5):
    run.log({{"loss": 1.0 / (step + 1)}})
run.finish()
"""


def main() -> int:
    from liberry.server import start

    work = Path(tempfile.mkdtemp(prefix="liberry-record-reports-"))
    notes: dict[str, list[str]] = {}
    try:
        with start(data_dir=None, port=0) as srv, RecordingProxy(srv.url) as proxy:
            flows = Flows(srv.url, proxy, srv.api_key, work)
            flows.python("setup", SETUP, recorded=False)
            urls: list[str] = []
            plan: list[tuple[str, Callable[[], object]]] = [
                ("r1_report_save", lambda: urls.append(flows.python("r1_report_save", SAVE))),
                ("r2_report_from_url_edit",
                 lambda: flows.python("r2_report_from_url_edit", EDIT.format(url=urls[0]))),
                ("r3_public_api_reports", lambda: flows.python("r3_public_api_reports", LIST)),
                ("r4_bad_input", lambda: flows.python("r4_bad_input", BAD)),
                ("r5_report_delete",
                 lambda: flows.python("r5_report_delete", DELETE.format(url=urls[0]))),
            ]  # fmt: skip
            for name, fn in plan:
                proxy.recorder.take()
                fn()
                time.sleep(0.3)
                lines = proxy.recorder.take()
                write_jsonl(OUT / f"{name}.jsonl", lines)
                notes[name] = flows.notes.get(name, [])
                print(f"{name}: {len(lines)} requests", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (OUT / "flows.json").write_text(json.dumps(notes, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
