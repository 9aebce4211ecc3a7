"""The Python client installs on its own: built from `clients/python` and installed into a fresh virtual
environment with no network (the wheels of its three dependencies were fetched by `make setup`), it has
no server, no Rust extension, no numpy, and it says hello to a real server and joins a space."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trio

from gateway.client import connect_account
from tests.conftest import ROOT, ServerProcess

WHEELS = ROOT / "target" / "client-wheels"

SCRIPT = textwrap.dedent(
    """
    import importlib.util, sys
    import trio
    from stoa_client import connect

    for absent in ("numpy", "matplotlib", "mixer", "actors", "gateway", "store"):
        assert importlib.util.find_spec(absent) is None, absent

    async def main(url):
        async with connect(url, "standalone") as client:
            assert client.user.startswith("g-") and client.welcome.protocol == 2
            spaces = await client.list_spaces("live")
            joined = await client.join_space(spaces.live[0].space_id)
            print("joined", joined.space.title, joined.role)

    trio.run(main, sys.argv[1])
    """
)


def run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=300, cwd=cwd)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def hosted(server: ServerProcess) -> ServerProcess:
    """The server, with one live space (it stays live after its host goes, for the abandon grace)."""

    async def host() -> None:
        async with connect_account(server.url, "host") as host:
            await host.create_space("For a client on its own")

    trio.run(host)
    return server


def test_the_client_installs_alone_into_a_fresh_environment_and_joins_a_space(
    tmp_path: Path, hosted: ServerProcess
) -> None:
    assert WHEELS.is_dir(), "make setup fetches the client's dependencies into target/client-wheels"
    source, built = tmp_path / "source", tmp_path / "built"  # built from a copy: no build files in the checkout
    shutil.copytree(ROOT / "clients" / "python", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "--no-build-isolation", "-w", built,
        source)  # fmt: skip
    # The environment without a pip of its own (installing one into it took most of this test's time): this
    # pip installs into it (`--python`), running as the environment's interpreter.
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index", "--find-links", built,
        "--find-links", WHEELS, "stoa-client")  # fmt: skip
    installed = run(python, "-c", "import importlib.metadata as m; print(*(d.name for d in m.distributions()))")
    names = {name.lower().replace("_", "-") for name in installed.split()}
    assert "stoa-client" in names and not names & {"numpy", "matplotlib", "stoa", "maturin", "argon2-cffi"}
    out = run(python, "-c", SCRIPT, hosted.url, cwd=tmp_path)  # not the checkout: only what was installed
    assert out.strip() == "joined For a client on its own listener"
