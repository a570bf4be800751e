"""Test-wide settings (unit tests and nbval alike): smoke profile, no network, headless plots,
a private data cache, and nbval's defaults.

The environment is set at import time so that notebook kernels started by nbval inherit it.
"""

import os
import tempfile
from pathlib import Path

os.environ["GANCOURSE_PROFILE"] = "smoke"
os.environ["GANCOURSE_OFFLINE"] = "1"
os.environ.pop("GANCOURSE_DRY", None)
os.environ.setdefault("MPLBACKEND", "Agg")
# keep the repository's data/cache (a student's downloads) out of the tests, but share one
# cache between test modules so the digits classifier trains once per session
os.environ.setdefault("GANCOURSE_DATA", os.path.join(tempfile.gettempdir(), "gancourse-test-cache"))
os.environ.setdefault("GANCOURSE_OUTPUT", os.path.join(tempfile.gettempdir(), "gancourse-test-runs"))

SANITIZE = Path(__file__).resolve().parent / "tests" / "sanitize.cfg"


def pytest_configure(config):
    """nbval runs lax (only cells marked ``# NBVAL_CHECK_OUTPUT`` are compared) unless ``--nbval``
    asks for strict; the repository's sanitize file applies unless another one is given. (In
    ``addopts`` these would clash with a maintainer's own ``--nbval`` or ``--sanitize-with``.)"""
    opt = config.option
    if not hasattr(opt, "nbval_lax"):                  # nbval not installed or disabled
        return
    if not opt.nbval and not opt.nbval_lax:
        opt.nbval_lax = True
    if not opt.nbval_sanitize_with and not getattr(opt, "sanitize_with", None):
        opt.nbval_sanitize_with = str(SANITIZE)
