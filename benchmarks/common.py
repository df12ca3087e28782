"""What the benchmark scripts share: the command line and the peak memory."""

from __future__ import annotations

import argparse
import resource


def arguments(doc: str) -> argparse.Namespace:
    """``--region`` (default leipzig-wurzen) and ``--data`` (default: the usual search)."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--region", default="leipzig-wurzen")
    parser.add_argument("--data", default=None)
    return parser.parse_args()


def peak_mb() -> float:
    """Peak resident memory of this process (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
