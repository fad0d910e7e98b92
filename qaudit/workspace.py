"""The workspace: a folder with ``qaudit.toml``, the database, the pseudonym key, and
per-cycle outputs.

Found from ``--workspace``, then ``QAUDIT_WORKSPACE``, then the current folder and its
parents: the first that holds ``qaudit.toml``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qaudit.errors import WorkspaceError
from qaudit.files import atomic_path, write_text
from qaudit.layout import cycle_folder

if TYPE_CHECKING:
    from qaudit.config import Settings
    from qaudit.db import Store

# Settings (pydantic) and the database are imported where they are used, so that
# `qaudit --help` and `qaudit --version`, which only need to know ENV_VAR, start fast.

CONFIG_NAME = "qaudit.toml"
DB_NAME = "qaudit.db"
KEY_NAME = "pseudonym.key"
KEY_BYTES = 32
ENV_VAR = "QAUDIT_WORKSPACE"


@dataclass
class Workspace:
    root: Path
    settings: Settings
    actor: str = ""  # who runs the commands: recorded with every event

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def templates(self) -> Path:
        """Where a workspace keeps its own question sets and report templates."""
        return self.root / "templates"

    def cycle_dir(self, cycle: str) -> Path:
        """The cycle's folder: ``cycles/<cycle's name as a file name>`` (``layout``)."""
        return cycle_folder(self.root, cycle)

    def store(self) -> Store:
        from qaudit.db import Store

        return Store.open(self.db_path, actor=self.actor, url=self.settings.database.url)

    def pseudonym_key(self) -> bytes:
        """The workspace's secret pseudonym key, made on first use and kept in the workspace
        (never in an output, readable by its owner only): the same id always gets the same
        pseudonym, and nobody without the key can reverse or recompute it.

        It is written whole or not at all; a key file that is empty, short or not a key
        (a crash, a full disk, a hand edit) is refused, never used: an empty key would let
        anyone recompute the pseudonyms."""
        path = self.root / KEY_NAME
        if not path.exists():
            with atomic_path(path) as tmp:
                tmp.write_text(secrets.token_hex(KEY_BYTES) + "\n", encoding="ascii")
                os.chmod(tmp, 0o600)
        try:
            text = path.read_text(encoding="ascii").strip()
            key = bytes.fromhex(text)
        except (OSError, UnicodeDecodeError, ValueError):
            key = b""
        if len(key) < KEY_BYTES:
            raise WorkspaceError(
                f"{path} is not a usable pseudonym key (empty, short or damaged), so nothing"
                " can be anonymised safely. Restore it from a backup; if there is none, move"
                " it aside and run the command again to make a new one (earlier anonymised"
                " exports will then use other pseudonyms)."
            )
        return key


def find_workspace(explicit: Path | None) -> Path:
    if explicit is not None:
        if not (explicit / CONFIG_NAME).is_file():
            raise WorkspaceError(
                f"{explicit} is not a qaudit workspace (no {CONFIG_NAME}). Run"
                f" `qaudit init {explicit}` to make one."
            )
        return explicit
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env)
        if not (path / CONFIG_NAME).is_file():
            raise WorkspaceError(
                f"{ENV_VAR} points to {path}, which is not a qaudit workspace (no"
                f" {CONFIG_NAME}). Run `qaudit init {path}` or unset {ENV_VAR}."
            )
        return path
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise WorkspaceError(
        f"no qaudit workspace here: no {CONFIG_NAME} in {here} or its parents. Run"
        " `qaudit init` to create one, or pass --workspace."
    )


def open_workspace(explicit: Path | None, actor: str = "") -> Workspace:
    from qaudit.config import load_settings

    root = find_workspace(explicit)
    return Workspace(root, load_settings(root / CONFIG_NAME), actor)


def init_workspace(root: Path, database_url: str = "") -> Workspace:
    """Create a workspace; refuses to overwrite an existing one. With ``database_url``, its
    record is made in that empty PostgreSQL database instead of ``qaudit.db``."""
    from qaudit.config import default_toml, load_settings, parse_settings
    from qaudit.db import Store

    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"{root} is a file; give a folder for the workspace.")
    config = root / CONFIG_NAME
    if config.exists():
        raise WorkspaceError(
            f"{root} is already a qaudit workspace ({CONFIG_NAME} exists); nothing changed."
        )
    text = default_toml()
    if database_url:
        import tomlkit

        document = tomlkit.parse(text)
        document["database"]["url"] = database_url
        text = tomlkit.dumps(document)
        parse_settings(tomlkit.parse(text).unwrap(), "--database")  # refused before anything
        Store.refuse_a_record_in(database_url, root / DB_NAME)
    root.mkdir(parents=True, exist_ok=True)
    Store.open(root / DB_NAME, create=True, url=database_url).close()
    write_text(config, text)
    return Workspace(root, load_settings(config))
