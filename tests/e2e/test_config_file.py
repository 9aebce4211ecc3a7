"""`stoa serve --config FILE` and STOA_* variables, against real processes: a bad value in either stops the server
in one line naming where it was given (exit 2, nothing on stdout); a good file's settings are the ones used."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from tests.conftest import start_server, stop_server
from tests.e2e.test_startup import serve_refused


def test_a_bad_value_in_the_file_is_refused_in_one_line_with_its_path(tmp_path: Path) -> None:
    file = tmp_path / "stoa.toml"
    file.write_text("[mix]\nbitrate = 5\ncomplexity = 99\n")
    line = serve_refused(tmp_path / "data", "--port", "0", "--config", str(file))
    assert f"{file}: mix.bitrate: must be 500 to 512000 bit/s, not 5" in line, line
    assert "1 more" in line, "the count of the other errors, for stoa config check"


def test_a_bad_value_in_the_environment_is_refused_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOA_MIX_MAX_MIXED", "50")
    line = serve_refused(tmp_path / "data", "--port", "0")
    assert "STOA_MIX_MAX_MIXED: must be 1 to 13, not 50" in line, line
    # The control: the variable at the end of its range starts. (A bad value is refused even where a flag
    # overrides it: every value given is checked, so a typo in an environment file never waits to be found.)
    monkeypatch.setenv("STOA_MIX_MAX_MIXED", "13")
    srv = start_server(tmp_path / "data")
    assert stop_server(srv) == 0


async def test_the_file_settings_are_the_ones_the_server_uses(tmp_path: Path) -> None:
    file = tmp_path / "stoa.toml"
    file.write_text("[limits]\nmax_connections_per_address = 1\n")
    srv = start_server(tmp_path / "data", "--config", str(file))
    try:
        with trio.fail_after(20):
            async with open_websocket_url(srv.url):
                with pytest.raises(ConnectionRejected) as refused:
                    async with open_websocket_url(srv.url):
                        pass
                assert refused.value.status_code == 429
    finally:
        assert stop_server(srv) == 0
