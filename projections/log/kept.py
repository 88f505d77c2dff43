"""The log's tables a rebuild keeps (salts and signed checkpoints), as a backup carries them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from projections.sqlview.base import SQLView


def kept_records(view: SQLView) -> Iterator[dict[str, Any]]:
    """Every salt, by subject, then every checkpoint, by size: JSON-ready records."""
    for row in view.query("SELECT subject, salt FROM {t}fl_log_salts ORDER BY subject"):
        yield {"salt": row["subject"], "value": row["salt"]}
    for row in view.query(
        "SELECT tree_size, root, note, signed_at FROM {t}fl_log_checkpoints ORDER BY tree_size"
    ):
        yield {
            "checkpoint": int(row["tree_size"]),
            "root": row["root"],
            "note": row["note"],
            "signed_at": str(row["signed_at"]),
        }


def restore_kept(view: SQLView, records: list[dict[str, Any]]) -> None:
    """Put back the salts and checkpoints among ``records`` (others are passed over)."""
    with view.cursor(commit=True) as c:
        for record in records:
            if "salt" in record:
                c.execute(
                    "INSERT INTO {t}fl_log_salts (subject, salt) VALUES (%s, %s)",
                    (record["salt"], record["value"]),
                )
            elif "checkpoint" in record:
                c.execute(
                    "INSERT INTO {t}fl_log_checkpoints (tree_size, root, note, signed_at)"
                    " VALUES (%s, %s, %s, %s)",
                    (record["checkpoint"], record["root"], record["note"], record["signed_at"]),
                )
