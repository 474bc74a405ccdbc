"""Pull a REDCap project through its API (records as flat raw CSV, and the data dictionary) and
land it as a REDCap export folder (transforms/adapters/redcap_export.py) with export.json.

The token is sent only as the API's POST field; it is never logged, put in an exception message
or written to disk. exported_at is the pull time, so later pulls win over earlier ones.
"""
from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import httpx

from transforms.clients.landing import landing_folder, resolve_secret, write_json_atomic


class RedcapApiError(RuntimeError):
    pass


def _post(client: httpx.Client, url: str, token: str, **fields) -> bytes:
    try:
        r = client.post(url, data={"token": token, **fields})
    except httpx.HTTPError as e:
        raise RedcapApiError(f"REDCap API unreachable ({type(e).__name__})") from None
    if r.status_code != 200:
        raise RedcapApiError(f"REDCap API answered {r.status_code} to content={fields.get('content')}")
    return r.content


def pull(url: str, landing: Path, registry_id: str, mapping: Path | None = None, token: str | None = None,
         token_env: str = "REDCAP_API_TOKEN", secret_block: str | None = None, timeout: float = 300.0) -> Path:
    token = token or resolve_secret(token_env, secret_block)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    export_id = now.strftime("redcap-%Y-%m-%dT%H-%M-%SZ")
    with httpx.Client(timeout=timeout) as client, landing_folder(landing, export_id) as tmp:
        records = _post(client, url, token, content="record", format="csv", type="flat", rawOrLabel="raw",
                        rawOrLabelHeaders="raw", exportCheckboxLabel="false", exportSurveyFields="true",
                        exportDataAccessGroups="true", returnFormat="json")
        metadata = _post(client, url, token, content="metadata", format="csv", returnFormat="json")
        (tmp / "data.csv").write_bytes(records)
        (tmp / "dictionary.csv").write_bytes(metadata)
        if mapping is not None:
            shutil.copy(mapping, tmp / "mapping.toml")
        write_json_atomic(tmp / "export.json", {"format": "redcap", "registry_id": registry_id, "export_id": export_id,
                                                "exported_at": now.isoformat().replace("+00:00", "Z"), "mode": "full"})
    return Path(landing) / export_id
