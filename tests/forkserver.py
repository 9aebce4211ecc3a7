"""Starts `stoa serve` processes for the tests by forking one that has already imported the server.

A new `python -m gateway serve` spends about a second importing (trio, aiortc, the settings tree, the HTTP
side) before it binds, and the tests start a couple of hundred servers. Each test process instead starts one
fork server (`python -m tests.forkserver`, single-threaded, having imported what a server imports and nothing
else run) and asks it for each server: it forks, and the child runs `python -m gateway` with the test's
arguments, environment, working directory and standard streams, as `subprocess.Popen` would have. The child is
a real, separate server process: it binds its own sockets, runs its own trio loop and exits through the
interpreter's usual shutdown. Only the parent differs, so `ForkedProcess` stands in for `Popen`: the fork
server waits for its children and sends their exit status back.

Protocol (a SOCK_SEQPACKET socket pair, one message each): the test sends `{"argv", "cwd", "env"}` as JSON with
its stdin, the server's stdout (a pipe's write end) and its stderr attached; the fork server answers
`{"started": pid}`, and `{"exited": pid, "returncode": code}` when a child ends (Popen's convention: -N for
signal N). When the test process goes, its end of the socket closes and the fork server exits.
"""

from __future__ import annotations

import json
import os
import runpy
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

MAX_MESSAGE = 1 << 20  # a request holds the environment
POLL_S = 0.05  # the longest a waiting thread sleeps when another thread took the message it waits for


class ForkServer:
    """The test process's side: one fork server, started at the first request."""

    def __init__(self) -> None:
        self._starting = threading.Lock()  # one request at a time: the next `started` answers it
        self._reading = threading.Lock()  # stop_server may wait on a trio worker thread while a test starts another
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._started: list[int] = []
        self._exited: dict[int, int] = {}

    def start(self, argv: list[str], cwd: Path, *, capture_stderr: bool = False) -> ForkedProcess:
        """`python -m gateway *argv` in `cwd`, its stdout a pipe (text) like `Popen(..., stdout=PIPE, text=True)`,
        and its stderr too if `capture_stderr` (else this process's)."""
        with self._starting:
            sock = self._connect()
            pipes = [os.pipe() for _ in range(2 if capture_stderr else 1)]
            try:
                request = json.dumps({"argv": argv, "cwd": str(cwd), "env": dict(os.environ)}).encode()
                socket.send_fds(sock, [request], [0, *(write for _, write in pipes), *([] if capture_stderr else [2])])
            finally:
                for _, write in pipes:
                    os.close(write)
            while not self._started:
                self._receive(timeout=POLL_S)
            streams = [os.fdopen(read, "r") for read, _ in pipes]
            return ForkedProcess(self, self._started.pop(), *streams)

    def run(self, argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
        """`python -m gateway *argv` to its end, as `subprocess.run(..., capture_output=True, text=True)`."""
        proc = self.start(argv, cwd, capture_stderr=True)
        stdout, stderr = proc.communicate(timeout)
        return subprocess.CompletedProcess(["stoa", *argv], proc.wait(), stdout, stderr)

    def returncode(self, pid: int, timeout: float | None) -> int | None:
        """The exit status of child `pid` once it has exited; None if it has not within `timeout` (0: now)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while pid not in self._exited:
            left = POLL_S if deadline is None else deadline - time.monotonic()
            self._receive(timeout=min(POLL_S, max(left, 0.0)))
            if left <= 0 and pid not in self._exited:
                return None
        return self._exited[pid]

    def _connect(self) -> socket.socket:
        if self._sock is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.forkserver", str(theirs.fileno())],
                cwd=Path(__file__).resolve().parent.parent,
                stdin=subprocess.DEVNULL,
                pass_fds=[theirs.fileno()],
            )
            theirs.close()
            self._sock = ours
        return self._sock

    def _receive(self, timeout: float) -> None:
        """Wait up to `timeout` for messages and note every one there is (another thread may take them first)."""
        assert self._sock is not None
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            return
        with self._reading:
            while True:
                try:
                    data = self._sock.recv(MAX_MESSAGE, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    return
                if not data:
                    status = self._proc.poll() if self._proc else None
                    raise RuntimeError(f"the fork server exited (status {status})")
                message: dict[str, int] = json.loads(data)
                if "started" in message:
                    self._started.append(message["started"])
                else:
                    self._exited[message["exited"]] = message["returncode"]


class ForkedProcess:
    """What the tests use of `subprocess.Popen`, for a server the fork server started."""

    def __init__(self, forks: ForkServer, pid: int, stdout: IO[str], stderr: IO[str] | None = None) -> None:
        self._forks = forks
        self.pid = pid
        self.stdout: IO[str] | None = stdout
        self.stderr = stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._forks.returncode(self.pid, 0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._forks.returncode(self.pid, timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(["stoa", "serve"], timeout or 0)
        return self.returncode

    def communicate(self, timeout: float) -> tuple[str, str]:
        """Read stdout and stderr (both captured) until the process has exited; kill it after `timeout`."""
        assert self.stdout is not None and self.stderr is not None
        out: dict[int, list[bytes]] = {self.stdout.fileno(): [], self.stderr.fileno(): []}
        open_fds, deadline = list(out), time.monotonic() + timeout
        while open_fds:
            ready, _, _ = select.select(open_fds, [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                self.kill()
                self.wait()
                raise subprocess.TimeoutExpired(["stoa"], timeout)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if chunk:
                    out[fd].append(chunk)
                else:
                    open_fds.remove(fd)  # the child's end closed: it has exited (or closed it)
        self.wait(max(0.0, deadline - time.monotonic()) + 5)
        stdout, stderr = (b"".join(chunks).decode() for chunks in out.values())
        return stdout, stderr

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:  # as Popen: never a signal to a pid that may have been reused
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _serve_requests(sock: socket.socket) -> dict[str, object]:
    """The fork server's loop: fork a child per request and report each exit. Returns only in a child, with
    its request; exits when the test process is gone."""
    children: dict[int, int] = {}  # pidfd -> pid
    while True:
        ready, _, _ = select.select([sock, *children], [], [])
        for fd in ready:
            if fd is not sock:
                pid = children.pop(fd)
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                sock.send(json.dumps({"exited": pid, "returncode": os.waitstatus_to_exitcode(status)}).encode())
                continue
            data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 3)
            if not data:
                sys.exit(0)
            pid = os.fork()
            if pid == 0:
                sock.close()
                for stream, fd in enumerate(fds):
                    os.dup2(fd, stream)
                os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # as Popen's close_fds: the pidfds, the fds sent
                request: dict[str, object] = json.loads(data)
                return request
            for fd in fds:
                os.close(fd)
            children[os.pidfd_open(pid)] = pid
            sock.send(json.dumps({"started": pid}).encode())


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    # What `stoa serve` imports, before it binds and after (the HTTP side): each child has it already.
    import gateway.cli  # noqa: F401
    import gateway.http  # noqa: F401

    request = _serve_requests(sock)
    os.chdir(str(request["cwd"]))
    env = request["env"]
    assert isinstance(env, dict) and isinstance(request["argv"], list)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = ["gateway", *request["argv"]]
    runpy.run_module("gateway", run_name="__main__", alter_sys=True)  # `python -m gateway`: it exits


if __name__ == "__main__":
    main()
