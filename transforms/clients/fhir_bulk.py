"""Pull a FHIR Bulk Data export (kick-off, status polling, NDJSON download) and land it as a FHIR
export folder (transforms/adapters/fhir_export.py): NDJSON files, the completion manifest with
local file names, and export.json with the registry id and the `_since` used. The files of the
manifest's `output`, `error` and `deleted` arrays are all downloaded: `deleted` (Bulk Data IG v2,
only with `_since`) names the resources deleted since then, which the adapter withdraws.

The last transactionTime is kept in a small state file and sent as the next `_since`, so each pull
asks only for what changed; it is updated only after the export has landed. Polling honours
Retry-After (seconds or an HTTP date) within a total time limit. The bearer token is never logged.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin

import httpx

from transforms.clients.landing import landing_folder, resolve_secret, write_json_atomic


class BulkExportError(RuntimeError):
    pass


# The manifest's arrays of files, each downloaded into the landing folder with the same auth; an
# entry's url is rewritten to the local name, so the saved manifest still lists every file.
FILE_ARRAYS = ("output", "error", "deleted")


def retry_after(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return default


def read_since(state_file: Path | None) -> str | None:
    if state_file and Path(state_file).is_file():
        return json.loads(Path(state_file).read_text()).get("transactionTime")
    return None


def pull(base_url: str, landing: Path, registry_id: str, types: list[str] | None = None,
         state_file: Path | None = None, token: str | None = None, token_env: str = "FHIR_BULK_TOKEN",
         secret_block: str | None = None, endpoint: str = "$export", max_wait: float = 3600.0,
         default_wait: float = 10.0, sleep=time.sleep, timeout: float = 300.0) -> Path:
    token = token if token is not None else resolve_secret(token_env, secret_block)
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    since = read_since(state_file)
    params = {"_outputFormat": "application/fhir+ndjson"}
    if types:
        params["_type"] = ",".join(types)
    if since:
        params["_since"] = since
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        kick = client.get(urljoin(base_url.rstrip("/") + "/", endpoint), params=params,
                          headers={"Accept": "application/fhir+json", "Prefer": "respond-async", **auth})
        if kick.status_code != 202 or "content-location" not in kick.headers:
            raise BulkExportError(f"kick-off answered {kick.status_code}, expected 202 with Content-Location")
        status_url = kick.headers["content-location"]
        waited = 0.0
        while True:
            r = client.get(status_url, headers={"Accept": "application/json", **auth})
            if r.status_code == 200:
                manifest = r.json()
                break
            if r.status_code != 202:
                raise BulkExportError(f"status request answered {r.status_code}")
            wait = retry_after(r.headers.get("retry-after"), default_wait)
            if waited + wait > max_wait:
                raise BulkExportError(f"export not complete after {waited:.0f} s")
            sleep(wait)
            waited += wait
        when = manifest.get("transactionTime")
        if not when:
            raise BulkExportError("completion manifest has no transactionTime")
        export_id = "fhir-" + "".join(c if c.isalnum() else "-" for c in when)
        file_auth = auth if manifest.get("requiresAccessToken", True) else {}
        with landing_folder(landing, export_id) as tmp:
            for key in FILE_ARRAYS:
                for n, entry in enumerate(manifest.get(key) or []):
                    name = f"{entry.get('type', key)}.{key}.{n:03d}.ndjson"
                    with client.stream("GET", entry["url"], headers={"Accept": "application/fhir+ndjson",
                                                                     **file_auth}) as resp:
                        if resp.status_code != 200:
                            raise BulkExportError(f"download of {entry.get('type')} file {n} answered "
                                                  f"{resp.status_code}")
                        with open(tmp / name, "wb") as fh:
                            for chunk in resp.iter_bytes():
                                fh.write(chunk)
                    entry["url"] = name
            write_json_atomic(tmp / "manifest.json", manifest)
            write_json_atomic(tmp / "export.json", {"format": "fhir", "registry_id": registry_id, "export_id": export_id,
                                                    "since": since, "mode": "incremental" if since else "full"})
    if state_file:
        write_json_atomic(Path(state_file), {"transactionTime": when})
    return Path(landing) / export_id
