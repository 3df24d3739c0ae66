"""The one place the version is written: pyproject.toml reads it (tool.setuptools.dynamic) for the
metadata, and scratch_nn.__version__ and reference.__version__ are this."""

__version__ = "0.1.0"
