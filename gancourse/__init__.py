"""gancourse: the tested package behind the GAN course notebooks.

Notebooks import from here; nothing a lesson relies on is pasted into a notebook.
"""

from gancourse.runtime import (
    PROFILES,
    Context,
    record,
    records,
    resolve_device,
    resolve_offline,
    resolve_profile,
    seed_everything,
    setup,
)

__version__ = "0.1.0"

__all__ = [
    "PROFILES",
    "Context",
    "__version__",
    "record",
    "records",
    "resolve_device",
    "resolve_offline",
    "resolve_profile",
    "seed_everything",
    "setup",
]
