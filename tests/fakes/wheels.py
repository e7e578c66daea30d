"""Build a tiny pure-Python wheel by hand, so the fake feed has something real to serve."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path


def build(name: str, version: str) -> tuple[str, bytes]:
    module = name.replace("-", "_")
    dist = f"{module}-{version}"
    files = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test\n",
        f"{dist}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: keyring-ado-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in files.items():
            data = text.encode()
            archive.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{dist}.dist-info/RECORD,,")
        archive.writestr(f"{dist}.dist-info/RECORD", "\n".join(record) + "\n")
    return f"{dist}-py3-none-any.whl", buffer.getvalue()


def write(directory: Path, name: str, version: str) -> Path:
    """The wheel :func:`build` makes, written into *directory* (made if missing), as a build would."""
    directory.mkdir(parents=True, exist_ok=True)
    filename, content = build(name, version)
    (directory / filename).write_bytes(content)
    return directory / filename
