"""What ships with qaudit besides code: the bundled ``templates/`` folder.

In a source checkout it sits beside the package; in an installed wheel, inside it.
"""

from __future__ import annotations

from pathlib import Path

from qaudit.errors import QuestionSetError


def package_templates() -> Path:
    """The bundled ``templates/`` folder (question sets and report templates)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "questions").is_dir():
            return candidate
    raise QuestionSetError(
        "qaudit's bundled templates are missing; reinstall qaudit (pip install --force-reinstall)."
    )
