"""The benchmarks' HTTP load generator: wrk when it can be had, else a stated httpx fallback.

``wrk`` (a C load generator) comes from Debian's packages: installed with ``apt-get install -y
wrk`` when it is missing and this process runs as root, non-interactively; otherwise the
benchmark says how to install it and falls back to httpx clients in its own event loop, which
saturate first (a single-report POST at about 600/s on 2 cores), so a figure measured with
httpx is a floor of the server's, not its limit. Every benchmark prints which one it used.
"""

from __future__ import annotations

import os
import shutil
import subprocess

INSTALL_HINT = "sudo apt-get install -y wrk"


def ensure_wrk(*, install: bool = True) -> str | None:
    """The path of ``wrk``, installing it from Debian's packages when allowed; None if absent."""
    found = shutil.which("wrk")
    if found or not install:
        return found
    apt_get = shutil.which("apt-get")
    if os.geteuid() != 0 or apt_get is None:
        return None
    print("load generator: wrk missing, running apt-get install -y wrk", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = [apt_get, "install", "-y", "wrk"]
    if subprocess.run(command, env=env, capture_output=True, check=False).returncode:  # noqa: S603
        # Stale package lists: update them, then try once more.
        subprocess.run([apt_get, "update"], env=env, capture_output=True, check=False)  # noqa: S603
        subprocess.run(command, env=env, capture_output=True, check=False)  # noqa: S603
    return shutil.which("wrk")


def generator(*, install: bool = True) -> str:
    """``"wrk"`` or ``"httpx"``, announced on stdout with why."""
    path = ensure_wrk(install=install)
    if path:
        print(f"load generator: wrk ({path})", flush=True)
        return "wrk"
    print(
        "load generator: httpx fallback (wrk not found; install it with"
        f" `{INSTALL_HINT}`): httpx saturates before the server, its figures are floors",
        flush=True,
    )
    return "httpx"
