"""The secret key kept in the data directory when HEXBANK_SECRET_KEY is not set (outside
production): generated once, readable by its owner only."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger("backend.config")

_KEY_FILE = "secret_key"


def stored_secret_key(data_dir: Path) -> str:
    """The key kept in <data_dir>/secret_key, created once (safe against a concurrent start)."""
    path = data_dir / _KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = data_dir / f".{_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    staging.write_text(secrets.token_urlsafe(48) + "\n")
    staging.chmod(0o600)
    try:
        # link() refuses to replace: whichever process links first wins, the others read its key.
        os.link(staging, path)
        log.warning("HEXBANK_SECRET_KEY is not set; generated one into %s", path)
    except FileExistsError:
        pass
    finally:
        staging.unlink()
    return path.read_text().strip()
