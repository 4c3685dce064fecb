"""Sphinx directive ``notebook-status``: a table of every chapter and solution notebook with
its stored execution (code cells executed, errors, seconds, when), like QuantEcon's status page.

The numbers come from the notebooks as committed: ``tools/execute_notebooks.py`` (``make
execute``) writes ``metadata.pgnotes.execution_seconds`` and ``executed_at``; CI re-runs them
all under strict nbval.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from docutils import nodes
from sphinx.util.docutils import SphinxDirective

FOLDERS = ("book", "solutions", "exercises")
HEADERS = ("notebook", "cells", "executed", "errors", "seconds", "date")


def notebook_row(root: Path, path: Path) -> tuple[str, ...]:
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()]
    executed = sum(c.execution_count is not None for c in code)
    errors = sum(any(o.output_type == "error" for o in c.outputs) for c in code)
    meta = notebook.metadata.get("pgnotes", {})
    stored = path.parent.name == "exercises"
    return (
        path.relative_to(root).as_posix(),
        str(len(code)),
        "clean copy" if stored else f"{executed}/{len(code)}",
        str(errors),
        "" if stored else str(meta.get("execution_seconds", "?")),
        "" if stored else str(meta.get("executed_at", "?"))[:10],
    )


class NotebookStatus(SphinxDirective):
    has_content = False

    def run(self):
        root = Path(self.env.srcdir)
        rows = [notebook_row(root, p) for folder in FOLDERS for p in sorted((root / folder).glob("*.ipynb"))]
        for folder in FOLDERS:
            for p in (root / folder).glob("*.ipynb"):
                self.env.note_dependency(str(p))
        table = nodes.table(classes=["notebook-status"])
        group = nodes.tgroup(cols=len(HEADERS))
        table += group
        for _ in HEADERS:
            group += nodes.colspec(colwidth=1)
        head, body = nodes.thead(), nodes.tbody()
        group += head
        group += body
        for cells, parent in [(HEADERS, head)] + [(r, body) for r in rows]:
            row = nodes.row()
            for text in cells:
                entry = nodes.entry()
                entry += nodes.paragraph(text=text)
                row += entry
            parent += row
        return [table]


def setup(app):
    app.add_directive("notebook-status", NotebookStatus)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
