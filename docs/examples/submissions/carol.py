"""A submission that cannot be imported: it needs a package this machine does not have."""

import cupy_is_not_installed  # noqa: F401
