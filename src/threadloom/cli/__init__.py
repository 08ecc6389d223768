"""The ``threadloom`` command: browse, search, export and repair agent sessions."""

from .app import cli, main

__all__ = ["cli", "main"]
