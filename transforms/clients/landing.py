"""Atomic landing: an export is written under a hidden temporary name in the landing folder and
renamed into place only when complete, so a watcher never sees half an export."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def landing_folder(landing: Path, name: str):
    """Yield a temporary folder; on success rename it to landing/name, on failure remove it."""
    landing = Path(landing)
    landing.mkdir(parents=True, exist_ok=True)
    final = landing / name
    if final.exists():
        raise FileExistsError(f"{final} already landed")
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=landing))
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json_atomic(path: Path, doc: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    os.replace(tmp, path)


def resolve_secret(env_var: str, block: str | None = None) -> str:
    """A token from the environment, else from a Prefect Secret block; never printed or logged."""
    value = os.environ.get(env_var)
    if value:
        return value
    if block:
        from prefect.blocks.system import Secret

        return Secret.load(block).get()
    raise RuntimeError(f"no API token: set {env_var} or name a Prefect Secret block")
