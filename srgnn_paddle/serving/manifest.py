"""The export folder's ``manifest.json``: what the folder holds and the SHA-256 of every file.

Nothing in an export folder is unpickled: the manifest and the item map are JSON, the item
table and the popularity counts ``.npy`` (read with ``allow_pickle=False``), the index a
Faiss file, the encoder Paddle's (or ONNX's) own format. A folder whose files do not match
the manifest's hashes is refused before any of them is read (:func:`verify_export`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import sha256_of

MANIFEST_FILE = "manifest.json"
FORMAT = "srgnn-paddle-export"
FORMAT_VERSION = 1
#: ``export --format``: the encoder formats a folder may hold
EXPORT_FORMATS = ("paddle", "onnx", "both")



def file_entries(folder: Path) -> Dict[str, Dict[str, Any]]:
    """``{relative path: {"sha256", "bytes"}}`` of every file under ``folder`` but the manifest."""
    return {p.relative_to(folder).as_posix(): {"sha256": sha256_of(p), "bytes": p.stat().st_size}
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST_FILE}


def verify_export(folder: Path) -> Dict[str, Any]:
    """The manifest of an export folder after checking that it is one of ours and that every
    file it lists is there, unchanged (SHA-256); SrgnnError naming the first problem."""
    folder = Path(folder)
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise SrgnnError(f"{path}: not found; pass a folder written by 'srgnn-paddle export'")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise SrgnnError(f"{path}: not valid JSON; export the run again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SrgnnError(f"{path}: not an srgnn-paddle export manifest; export the run again")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise SrgnnError(f"{path}: format_version {manifest.get('format_version')!r}, this srgnn-paddle reads "
                         f"{FORMAT_VERSION}; export the run again with this version")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise SrgnnError(f"{path}: lists no files; export the run again")
    for name, entry in files.items():
        target = (folder / name).resolve()
        if folder.resolve() not in target.parents:
            raise SrgnnError(f"{path}: file {name!r} lies outside the export folder; refusing it")
        if not target.is_file():
            raise SrgnnError(f"{folder / name}: listed in the manifest but missing; export the run again")
        if not isinstance(entry, dict) or sha256_of(target) != entry.get("sha256"):
            raise SrgnnError(f"{folder / name}: SHA-256 does not match the manifest (the file was changed or "
                             f"damaged); export the run again")
    return manifest
