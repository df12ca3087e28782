"""What the benchmark scripts share: the command line and the peak memory."""

from __future__ import annotations

import argparse
import atexit
import resource
import shutil
import tempfile
from pathlib import Path


def arguments(doc: str) -> argparse.Namespace:
    """``--region`` (default leipzig-wurzen), ``--ags`` (an ad-hoc Saxon region instead, e.g. 14729
    Landkreis Leipzig; data from ``--data`` or ../shared/data), ``--data`` and ``--work`` (a folder
    kept between runs for the untimed stages; default a temporary one)."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--region", default="leipzig-wurzen")
    parser.add_argument("--ags", default=None)
    parser.add_argument("--data", default=None)
    parser.add_argument("--work", default=None)
    args = parser.parse_args()
    if args.ags:
        from landuse.adhoc import region_from_ags
        from landuse.config import shared_data_root

        args.data = args.data or shared_data_root()
        args.region = region_from_ags(args.ags, data_root=args.data)
    return args


def peak_mb() -> float:
    """Peak resident memory of this process (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def work_dir(args: argparse.Namespace, prefix: str) -> Path:
    """``--work`` where given (kept), else a temporary folder removed when the benchmark ends."""
    if getattr(args, "work", None):
        return Path(args.work)
    work = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    return work
