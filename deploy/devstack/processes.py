"""Child processes of the dev stack: started with a log file, stopped for sure, never left behind.

Every long-running child gets its own process group (so a Ctrl-C in the terminal reaches only
the dev stack, which then stops the children in order) and, on Linux, a parent-death signal (so
even a ``kill -9`` of the dev stack takes them down). A pid file per child lets the next start
stop a leftover of a run that was killed anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import logging
import os
import pwd
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import AlreadyRunningError, DevstackError, PortInUseError

log = logging.getLogger("devstack")

StopPlan = Sequence[tuple[signal.Signals, float]]
"""Signals tried in order, each with the seconds to wait for an exit, before SIGKILL."""

GRACEFUL: StopPlan = ((signal.SIGTERM, 20.0),)

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class RunAs:
    """A system user to run a child as (PostgreSQL refuses to run as root)."""

    name: str
    uid: int
    gid: int

    @classmethod
    def lookup(cls, name: str) -> RunAs:
        entry = pwd.getpwnam(name)
        return cls(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def _death_signal_hook(sig: signal.Signals) -> Callable[[], None] | None:
    """A pre-exec hook: the child gets ``sig`` when this process dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the hook ran
            os.kill(os.getpid(), sig)

    return hook


LOG_ROTATE_BYTES = 20 * 1024 * 1024


def _log_header(log_file: Path, argv: Sequence[str]) -> None:
    """Mark a new run in the log; a log past 20 MiB is moved to ``<name>.log.1`` first."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if log_file.stat().st_size > LOG_ROTATE_BYTES:
            log_file.replace(log_file.with_name(log_file.name + ".1"))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with log_file.open("a", encoding="utf-8") as out:
        out.write(f"\n---- {stamp} devstack runs: {shlex.join(argv)}\n")


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.rstrip().splitlines()[-lines:])


class ManagedProcess:
    """One long-running child process, its output appended to a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        pid_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        run_as: RunAs | None = None,
        stop_plan: StopPlan = GRACEFUL,
        death_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.pid_path = pid_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.run_as = run_as
        self.stop_plan = stop_plan
        self.death_signal = death_signal
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process (call from the event loop's thread: the death signal is per thread)."""
        _log_header(self.log_path, self.argv)
        with self.log_path.open("ab") as out:
            self._popen = subprocess.Popen(  # noqa: S603 - argv is built by the dev stack
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_death_signal_hook(self.death_signal),
                user=self.run_as.uid if self.run_as else None,
                group=self.run_as.gid if self.run_as else None,
                extra_groups=[] if self.run_as else None,
            )
        if self.pid_path is not None:
            self.pid_path.parent.mkdir(parents=True, exist_ok=True)
            self.pid_path.write_text(f"{self._popen.pid}\n", encoding="utf-8")

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    @property
    def returncode(self) -> int | None:
        """None while running (or never started), else the exit status."""
        return self._popen.poll() if self._popen else None

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    async def stop(self) -> None:
        """Ask the process to stop as planned, then SIGKILL its whole process group."""
        popen = self._popen
        if popen is None:
            return
        for sig, seconds in self.stop_plan:
            if popen.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                popen.send_signal(sig)
            if await _wait_exit(popen, seconds):
                break
        if popen.poll() is None:
            log.warning("%s did not stop in time; killing it", self.name)
            # The leader is not reaped yet, so its group id still belongs to us.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(popen.pid, signal.SIGKILL)
            await _wait_exit(popen, 10.0)
        if self.pid_path is not None:
            self.pid_path.unlink(missing_ok=True)


async def _wait_exit(popen: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while popen.poll() is None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def run_command(
    argv: Sequence[str],
    *,
    what: str,
    log_path: Path,
    run_as: RunAs | None = None,
    cwd: Path | None = None,
    within: float = 900.0,
) -> None:
    """Run a one-shot command to completion, output to ``log_path``; killed if cancelled."""
    _log_header(log_path, argv)
    with log_path.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            user=run_as.uid if run_as else None,
            group=run_as.gid if run_as else None,
            extra_groups=[] if run_as else None,
        )
    try:
        code = await asyncio.wait_for(proc.wait(), within)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    if code != 0:
        raise DevstackError(f"{what} failed (exit {code}); see {log_path}:\n{tail(log_path)}")


def process_cmdline(pid: int) -> str | None:
    """The command line of a live process, or None if there is none (zombies count as none)."""
    proc = Path(f"/proc/{pid}/cmdline")
    if Path("/proc/self").exists():
        try:
            raw = proc.read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            return None
        return raw.replace(b"\0", b" ").decode(errors="replace").strip() or None
    result = subprocess.run(  # noqa: S603
        ["ps", "-ww", "-o", "command=", "-p", str(pid)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or None


def _read_pid(pid_path: Path) -> int | None:
    try:
        return int(pid_path.read_text(encoding="utf-8").split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


async def stop_leftover(pid_path: Path, marker: str, what: str) -> None:
    """Stop a process that a killed earlier run left behind, as named by its pid file.

    The process is only touched if its command line still contains ``marker`` (its data
    folder), so a recycled pid never hits an unrelated process.
    """
    pid = _read_pid(pid_path)

    def alive() -> bool:
        cmdline = process_cmdline(pid) if pid is not None else None
        return cmdline is not None and marker in cmdline

    if pid is not None and alive():
        log.warning("stopping %s left over by an earlier run (pid %d)", what, pid)
        for sig, seconds in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + seconds
            while True:
                if not alive() or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.1)
            if not alive():
                break
        if alive():
            raise DevstackError(f"cannot stop {what} left over by an earlier run (pid {pid})")
    _remove(pid_path)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def ensure_port_free(port: int, what: str, hint: str = "") -> None:
    """Fail with one clear line if something already listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            message = f"port {port} (for {what}) is already in use"
            raise PortInUseError(f"{message}; {hint}" if hint else message) from None


async def port_open(host: str, port: int, within: float = 1.0) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), within)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class RunLock:
    """An exclusive lock on a stack folder while a stack runs there.

    An ``flock``: the operating system drops it when the holder dies, so a killed run never
    blocks the next one. The file holds the holder's pid, for the message.
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunningError(
                f"{self.what} is already running (pid {holder}, lock {self.path}); stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
