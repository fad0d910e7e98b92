"""qaudit: run the case audit cycle of an Adult Social Care Quality Assurance Framework."""

__version__ = "0.1.0"
