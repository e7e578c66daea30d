"""A fake web browser for Python's ``webbrowser`` (``BROWSER=python browser.py %s``).

It returns at once, as a real browser does, and in a detached child asks the fake Entra ID's
authorize endpoint for a code, then posts ``code`` and ``state`` to msal's loopback redirect URI,
as Entra's ``form_post`` page does. It trusts the tests' CA and goes through their proxy.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def complete(url: str) -> None:
    time.sleep(0.3)  # let msal start waiting on its loopback server
    context = ssl.create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(), urllib.request.HTTPSHandler(context=context))
    with opener.open(url, timeout=10) as answer:
        granted = json.load(answer)
    with open(os.environ["FAKE_BROWSER_LOG"], "a") as log:
        log.write(url + "\n")
    if os.environ.get("FAKE_BROWSER_SILENT_FIRST"):  # another local process: connects, says nothing
        import socket

        port = urllib.parse.urlsplit(granted["redirect_uri"]).port
        silent = socket.create_connection(("127.0.0.1", port or 80), timeout=5)
        with open(os.environ["FAKE_BROWSER_LOG"], "a") as log:
            log.write("silent connection opened\n")
        time.sleep(0.3)  # the listener is now reading from it
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the loopback server, no proxy
    if os.environ.get("FAKE_BROWSER_FORGED_FIRST"):  # another local process posts its own answers first
        for forged in ({"code": "forged"}, {"code": "forged", "state": "guessed"}, {"error": "x", "state": ""}):
            try:
                direct.open(
                    urllib.request.Request(granted["redirect_uri"], data=urllib.parse.urlencode(forged).encode())
                )
            except urllib.error.HTTPError as refused:
                with open(os.environ["FAKE_BROWSER_LOG"], "a") as log:
                    log.write(f"forged answer refused with {refused.code}\n")
                refused.close()
    answer = {"code": granted["code"], "state": granted["state"]}
    if os.environ.get("FAKE_BROWSER_ERROR"):  # Entra's page (or someone who read the state) sends an error
        answer = {
            "error": "access_denied",
            "error_description": os.environ["FAKE_BROWSER_ERROR"],
            "state": granted["state"],
        }
    form = urllib.parse.urlencode(answer).encode()
    with direct.open(urllib.request.Request(granted["redirect_uri"], data=form, method="POST"), timeout=60):
        pass
    if os.environ.get("FAKE_BROWSER_SILENT_FIRST"):
        silent.close()


if __name__ == "__main__":
    if sys.argv[1] == "--complete":
        complete(sys.argv[2])
    else:
        subprocess.Popen([sys.executable, __file__, "--complete", sys.argv[1]], start_new_session=True)
