"""Placeholder; replaced by the runner work."""


def main(argv=None):
    raise SystemExit("not yet")
