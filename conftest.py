"""Test-wide settings (unit tests and nbval alike): smoke profile, no network, headless plots,
a private data cache.

These are set at import time so that notebook kernels started by nbval inherit them.
"""

import os
import tempfile

os.environ["GANCOURSE_PROFILE"] = "smoke"
os.environ["GANCOURSE_OFFLINE"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
# keep the repository's data/cache (a student's downloads) out of the tests, but share one
# cache between test modules so the digits classifier trains once per session
os.environ.setdefault("GANCOURSE_DATA", os.path.join(tempfile.gettempdir(), "gancourse-test-cache"))
