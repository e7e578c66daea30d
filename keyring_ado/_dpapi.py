"""Windows DPAPI through ctypes: encrypt a secret so only the current Windows user can read it."""

from __future__ import annotations

import sys

if sys.platform == "win32":  # the whole module; mypy and other platforms see nothing here
    import ctypes
    from ctypes import wintypes

    _UI_FORBIDDEN = 0x1
    _ENTROPY = b"keyring-ado token cache"

    class _Blob(ctypes.Structure):
        _fields_ = [("cbData", wintypes.DWORD), ("pbData", ctypes.POINTER(ctypes.c_char))]

    def _blob(data: bytes) -> tuple[_Blob, ctypes.Array[ctypes.c_char]]:
        buffer = ctypes.create_string_buffer(data, len(data))
        return _Blob(len(data), ctypes.cast(buffer, ctypes.POINTER(ctypes.c_char))), buffer

    def _run(protecting: bool, data: bytes) -> bytes:
        source, _keep = _blob(data)
        entropy, _keep_entropy = _blob(_ENTROPY)
        result = _Blob()
        # use_last_error: ctypes saves the last error right after the call, before anything else in
        # the interpreter (another ctypes call, a thread switch) can overwrite it.
        crypt32 = ctypes.WinDLL("crypt32", use_last_error=True)
        if protecting:
            ok = crypt32.CryptProtectData(
                ctypes.byref(source), None, ctypes.byref(entropy), None, None, _UI_FORBIDDEN, ctypes.byref(result)
            )
        else:
            ok = crypt32.CryptUnprotectData(
                ctypes.byref(source), None, ctypes.byref(entropy), None, None, _UI_FORBIDDEN, ctypes.byref(result)
            )
        if not ok:
            raise OSError(ctypes.get_last_error(), "DPAPI could not process the token cache entry")
        try:
            return ctypes.string_at(result.pbData, result.cbData)
        finally:
            ctypes.WinDLL("kernel32", use_last_error=True).LocalFree(result.pbData)

    def protect(data: bytes) -> bytes:
        """Encrypt *data* for the current user."""
        return _run(True, data)

    def unprotect(data: bytes) -> bytes:
        """Decrypt what :func:`protect` made, as the same user."""
        return _run(False, data)
