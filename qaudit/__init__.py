"""qaudit: run the case audit cycle of an Adult Social Care Quality Assurance Framework."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # The version lives in pyproject.toml alone; reading the installed metadata costs
    # tens of milliseconds, so it is read only when something asks for it.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("qaudit")
        except PackageNotFoundError:  # pragma: no cover - a checkout that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'qaudit' has no attribute {name!r}")
