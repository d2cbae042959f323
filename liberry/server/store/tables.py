"""Table definitions (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Names follow W&B's data model: entity -> project -> run -> history rows / files.
JSON documents are stored as text (`config`, `summary`, ...) so both dialects read them the
same way; the only dialect-aware JSON access lives in `filters.py` / `jsonsql.py`. Their keys
are also indexed, one row per key, in `run_values` (written by `values.py`), which run filters
and orders read instead of the JSON text.
Timestamps are ISO-8601 UTC text (`2026-01-31T12:00:00.123456`), which sorts correctly as text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import UserDefinedType

metadata = MetaData()


def _run_key() -> Column[int]:
    """`run_id` leading a table's primary key: rows that belong to one run and go with it."""
    return Column(
        "run_id",
        Integer,
        ForeignKey("runs.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(255), nullable=False, unique=True),
    Column("email", String(255)),
    Column("name", String(255)),
    Column("admin", Boolean, nullable=False, default=False),
    Column("created_at", String(32), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    # Hex HMAC-SHA256(server key secret, sha256 hex of the key) when `hashed` is 1 (see
    # accounts.hash_key); the bare sha256 hex in rows of stores before schema v6 (`hashed` 0),
    # converted in place by Store when it opens with the data dir's key secret.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("description", Text),
    Column("created_at", String(32), nullable=False),
    Column("hashed", SmallInteger, nullable=False, default=1, server_default="0"),
)

entities = Table(
    "entities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("is_team", Boolean, nullable=False, default=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", String(32), nullable=False),
)

# Who belongs to a team entity (`entities.is_team`). A user's own entity has no rows here: it
# is theirs through `entities.user_id`. Read on every request (no cache), so removal is
# effective at once.
team_members = Table(
    "team_members",
    metadata,
    Column("entity_id", Integer, ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", String(32), nullable=False),
)
Index("ix_team_members_user", team_members.c.user_id, team_members.c.entity_id)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entity_id", Integer, ForeignKey("entities.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("entity_id", "name", name="uq_projects_entity_name"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),  # the run id W&B calls `name`
    Column("display_name", String(255)),
    Column("state", String(16), nullable=False, default="running"),
    Column("config", Text, nullable=False, default="{}"),  # W&B-wrapped: {"k": {"value": v}}
    Column("summary", Text, nullable=False, default="{}"),
    Column("system_metrics", Text, nullable=False, default="{}"),
    Column("tags", Text, nullable=False, default="[]"),  # JSON list of strings
    Column("group_name", String(255)),
    Column("job_type", String(255)),
    Column("notes", Text),
    Column("description", Text),
    Column("commit_hash", String(64)),
    Column("host", String(255)),
    Column("program", Text),
    Column("sweep_name", String(128)),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("heartbeat_at", String(32), nullable=False),
    Column("exitcode", Integer),
    Column("history_line_count", Integer, nullable=False, default=0),
    Column("events_line_count", Integer, nullable=False, default=0),
    Column("log_line_count", Integer, nullable=False, default=0),
    # {"keys": {k: {"typeCounts": [{"type": t, "count": n}]}}, "lastStep": n}
    Column("history_keys", Text, nullable=False, default='{"keys": {}, "lastStep": -1}'),
    UniqueConstraint("project_id", "name", name="uq_runs_project_name"),
)
Index("ix_runs_project_created", runs.c.project_id, runs.c.created_at, runs.c.id)
Index("ix_runs_project_heartbeat", runs.c.project_id, runs.c.heartbeat_at, runs.c.id)
Index("ix_runs_state_heartbeat", runs.c.state, runs.c.heartbeat_at)

# How many runs each project has, kept by triggers on `runs` (see `counts.py`): an unfiltered
# `runCount` of a million-run project is one row read, not a million index entries.
project_run_counts = Table(
    "project_run_counts",
    metadata,
    Column(
        "project_id",
        Integer,
        ForeignKey("projects.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("n", BigInteger, nullable=False),
)

# History (`wandb-history.jsonl`) in blocks of consecutive lines, one row per block: ingestion
# writes one row per ~100 lines instead of one per line. A block holds the lines
# first_line .. first_line + n - 1 (line = file_stream offset), all present; gaps between blocks
# are lines never sent. Written and read by `history_blocks.py` only.
history_blocks = Table(
    "history_blocks",
    metadata,
    _run_key(),
    Column("first_line", Integer, primary_key=True, autoincrement=False),
    Column("n", Integer, nullable=False),
    # Over the block's non-null `_step`s; NULL when it has none.
    Column("step_min", BigInteger),
    Column("step_max", BigInteger),
    # One step per line as a JSON array (null for a line without one); NULL when the steps
    # are step_min, step_min + 1, ... (nearly always), which is also the cheapest to read.
    Column("steps", Text),
    Column("data", Text, nullable=False),  # the lines joined by "\n" (JSON lines have none)
)
# Covering: the block directory (bisecting lines) and step-range reads use only this index.
# `steps` is NULL in nearly every block, so entries stay small (and under PostgreSQL's ~2.7 kB
# btree entry limit with history_blocks.BLOCK_LINES steps of at most 20 digits).
Index(
    "ix_history_blocks_dir",
    history_blocks.c.run_id,
    history_blocks.c.first_line,
    history_blocks.c.n,
    history_blocks.c.step_min,
    history_blocks.c.step_max,
    history_blocks.c.steps,
)

# Other line-oriented streams: `output.log` (console), `wandb-events.jsonl` (system metrics).
stream_lines = Table(
    "stream_lines",
    metadata,
    _run_key(),
    Column("file", String(64), primary_key=True),
    Column("line", Integer, primary_key=True, autoincrement=False),
    Column("content", Text, nullable=False),
    sqlite_with_rowid=False,
)

run_files = Table(
    "run_files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(1024), nullable=False),
    Column("size", Integer),
    Column("md5", String(64)),  # base64 md5, as W&B reports it
    Column("mimetype", String(255)),
    Column("uploaded", Boolean, nullable=False, default=False),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("run_id", "name", name="uq_run_files_run_name"),
)


class _SQLiteNumber(UserDefinedType[object]):
    """SQLite NUMERIC affinity, values passed through untouched: integers stay exact 64-bit
    integers (as `json_extract` returns them), other numbers are REAL."""

    cache_ok = True

    def get_col_spec(self, **_kw: object) -> str:
        return "NUMERIC"


# One row per key of a run's unwrapped config (`config.KEY` is `config[KEY]["value"]`) or
# summary, nested keys included down to `values.MAX_DEPTH`; see `values.py` for the encoding.
# `project_id` is copied from the run so the ordering index can seek one project's key.
run_values = Table(
    "run_values",
    metadata,
    _run_key(),
    Column("source", SmallInteger, primary_key=True, autoincrement=False),  # 0 config, 1 summary
    Column("key", Text, primary_key=True),  # dotted path: `model.depth`, `a\.b` (see values.py)
    Column("project_id", Integer, nullable=False),
    # Sort group: 0 number, 1 string, 2 boolean, 3 array/object, 4 null/NaN (missing: no row).
    Column("grp", SmallInteger, nullable=False),
    # Numbers, and booleans as 0/1; NULL for every other kind.
    Column("number", Float(asdecimal=False).with_variant(_SQLiteNumber(), "sqlite")),
    # Strings, and arrays/objects as canonical JSON (truncated); NULL for every other kind.
    # Code-point order on PostgreSQL too, as SQLite and Python compare.
    Column("text", Text().with_variant(Text(collation="C"), "postgresql")),
    Column("kind", SmallInteger, nullable=False),  # exact kind, values.KIND_*
    sqlite_with_rowid=False,
)
# Orders seek (project, source, key, group) and read values in order; covering.
Index(
    "ix_run_values_order",
    run_values.c.project_id,
    run_values.c.source,
    run_values.c.key,
    run_values.c.grp,
    run_values.c.number,
    run_values.c.text,
    run_values.c.run_id,
)

# A sweep: W&B's hyperparameter search, owned by a project like its runs. `name` is the id
# users type (`entity/project/<name>`); `config` the YAML text the client sent, as sent.
# The controller's bookkeeping lives in `sweep_runs`; `runs.sweep_name` is what W&B's clients
# filter on, so a run belongs to a sweep through that column (`sweep_runs` is optional).
sweeps = Table(
    "sweeps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("display_name", String(255)),
    Column("description", Text),
    Column("method", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("config", Text, nullable=False),
    # From the config, so "best run" and bestLoss are one indexed query each.
    Column("metric_name", Text),
    Column("metric_goal", String(8)),
    Column("expected_runs", Integer),  # grid size or run_cap; NULL when unbounded
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("heartbeat_at", String(32)),
    UniqueConstraint("project_id", "name", name="uq_sweeps_project_name"),
)

# `wandb agent` processes: each heartbeats and is handed one run at a time.
sweep_agents = Table(
    "sweep_agents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sweep_id", Integer, ForeignKey("sweeps.id", ondelete="CASCADE"), nullable=False),
    Column("host", String(255)),
    Column("state", String(16), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", String(32), nullable=False),
    Column("heartbeat_at", String(32), nullable=False),
)
Index("ix_sweep_agents_sweep", sweep_agents.c.sweep_id, sweep_agents.c.id)

# The runs the controller handed out: which point of the search space, to which agent.
sweep_runs = Table(
    "sweep_runs",
    metadata,
    Column(
        "run_id",
        Integer,
        ForeignKey("runs.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("sweep_id", Integer, ForeignKey("sweeps.id", ondelete="CASCADE"), nullable=False),
    Column("agent_id", Integer, ForeignKey("sweep_agents.id", ondelete="SET NULL")),
    Column("params", Text, nullable=False),  # flat JSON: {"optimizer.lr": 0.1, ...}
    # Early termination asked the run's agent to stop it (sent again on every heartbeat).
    Column("stop_requested", Boolean, nullable=False, default=False),
    Column("created_at", String(32), nullable=False),
)
Index("ix_sweep_runs_sweep", sweep_runs.c.sweep_id, sweep_runs.c.run_id)
# A sweep's runs in creation order (its `runs` list and best-run filters seek this).
Index(
    "ix_runs_project_sweep", runs.c.project_id, runs.c.sweep_name, runs.c.created_at, runs.c.id
)

# --- Artifacts (issue #14) ---------------------------------------------------------------
# project -> artifact type -> collection (W&B's "sequence") -> versions. File bytes are
# content-addressed on disk by md5 (see `server/artifact_storage.py`), so a row here only
# names a blob; `artifact_files` is filled from the manifest when the version commits.

artifact_types = Table(
    "artifact_types",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("project_id", "name", name="uq_artifact_types_project_name"),
)

artifact_collections = Table(
    "artifact_collections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column(
        "type_id", Integer, ForeignKey("artifact_types.id", ondelete="CASCADE"), nullable=False
    ),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    # Version numbers are never reused, even after a delete: v3 always means one artifact.
    Column("next_version", Integer, nullable=False, default=0),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    # Collection names are unique in a project whatever their type (W&B reports a clash).
    UniqueConstraint("project_id", "name", name="uq_artifact_collections_project_name"),
)
Index("ix_artifact_collections_type", artifact_collections.c.type_id, artifact_collections.c.id)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "collection_id",
        Integer,
        ForeignKey("artifact_collections.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version_index", Integer),  # set on commit
    Column("state", String(16), nullable=False),  # PENDING, COMMITTED
    Column("digest", String(64), nullable=False),  # hex md5 over the manifest contents
    Column("description", Text),
    Column("metadata", Text, nullable=False, default="{}"),
    Column("size", BigInteger, nullable=False, default=0),
    Column("file_count", Integer, nullable=False, default=0),
    Column("manifest_md5", String(32)),  # hex md5 of the uploaded manifest blob
    Column("manifest_expected", String(64)),  # base64 md5 the client declared for it
    # The run that logged it; kept (NULL) when that run is deleted.
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="SET NULL")),
    Column("pending_aliases", Text, nullable=False, default="[]"),  # applied on commit
    Column("history_step", BigInteger),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    # Time to live: NULL inherits (no TTL), -2 disabled, else seconds. Kept and shown, not
    # enforced: nothing is deleted when it runs out (store/artifact_labels.py).
    Column("ttl_seconds", BigInteger),
    Column("tags", Text, nullable=False, default="[]"),  # a JSON list of tag names
    UniqueConstraint("collection_id", "version_index", name="uq_artifacts_collection_version"),
)
Index("ix_artifacts_collection_digest", artifacts.c.collection_id, artifacts.c.digest)

# Named aliases (`latest`, `best`, ...); `vN` aliases are the version index, not rows.
artifact_aliases = Table(
    "artifact_aliases",
    metadata,
    Column(
        "collection_id",
        Integer,
        ForeignKey("artifact_collections.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("alias", String(128), primary_key=True),
    Column(
        "artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"), nullable=False
    ),
)
Index("ix_artifact_aliases_artifact", artifact_aliases.c.artifact_id)

artifact_files = Table(
    "artifact_files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"), nullable=False
    ),
    Column("name", String(1024), nullable=False),
    Column("digest", String(128), nullable=False),  # base64 md5 (or the ref's digest)
    Column("size", BigInteger),
    Column("ref", Text),  # a reference entry's URI (file://, s3://): no bytes stored
    UniqueConstraint("artifact_id", "name", name="uq_artifact_files_artifact_name"),
)
Index("ix_artifact_files_digest", artifact_files.c.digest)

# Lineage: a run logged (`output`) or used (`input`) an artifact version.
artifact_usage = Table(
    "artifact_usage",
    metadata,
    Column(
        "artifact_id",
        Integer,
        ForeignKey("artifacts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),  # "input" | "output"
    Column("created_at", String(32), nullable=False),
)
Index("ix_artifact_usage_run", artifact_usage.c.run_id, artifact_usage.c.kind)

# --- Reports (issue #18) -----------------------------------------------------------------
# W&B's "views": a report is a view of type `runs` (`runs/draft` for a draft), its `spec` the
# JSON text the client sent, kept byte-for-byte (clients compare and re-save it). `name` is
# the report's short slug; `id` is what URLs carry (`.../reports/Title--<base64 id>`).
views = Table(
    "views",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("type", String(64), nullable=False),
    Column("display_name", String(255)),
    Column("description", Text),
    Column("spec", Text, nullable=False),
    # A draft's report (W&B's `parentId`); deleting a report may delete its drafts too.
    Column("parent_id", Integer, ForeignKey("views.id", ondelete="SET NULL")),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("project_id", "name", name="uq_views_project_name"),
)
# A project's reports of one type, newest first (`allViews` pages seek this).
Index("ix_views_project_type", views.c.project_id, views.c.type, views.c.id)
