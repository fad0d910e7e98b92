"""qaudit: run the case audit cycle of an Adult Social Care Quality Assurance Framework."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qaudit")
except PackageNotFoundError:  # pragma: no cover - run from a checkout without installing
    __version__ = "0+unknown"
