"""The settings tree: the sample file is complete and valid, every error names the setting's path and what it
must be, the environment overrides the file and flags override both, and docs/operations.md holds the
reference made from the tree."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gateway import config
from gateway.cli import main
from tests.conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "stoa.toml"
    file.write_text(text)
    return file


def test_the_sample_holds_every_setting_at_its_default(tmp_path: Path) -> None:
    text = config.sample()
    parsed = tomllib.loads(text)
    for item in config.items():
        if item.default is None and item.spec.off is None:  # unset by default: commented out, with an example
            assert f"# {item.name} = {item.spec.example}" in text, item.path
            assert item.name not in parsed[item.section]
        else:
            assert item.name in parsed[item.section], item.path
    file = write(tmp_path, text)
    assert config.check_file(file) == []
    assert config.load(file, env={}) == config.Settings()


def test_the_sample_with_every_example_filled_in_is_valid(tmp_path: Path) -> None:
    text = config.sample()
    for item in config.items():
        text = text.replace(f"# {item.name} = {item.spec.example}", f"{item.name} = {item.spec.example}")
    settings = config.load(write(tmp_path, text), env={})
    assert settings.server.sndbuf == 65536
    assert settings.web.public_ws_url == "wss://spaces.example.org/ws"
    assert settings.metrics.token == "change-me"


def test_names_are_one_each() -> None:
    items = list(config.items())
    assert len({i.env for i in items}) == len(items)
    flags = [i.spec.flag for i in items if i.spec.flag]
    assert len(set(flags)) == len(flags)
    for item in items:
        assert item.spec.doc, item.path
        assert not (item.spec.secret and item.spec.flag), f"{item.path}: a secret on the command line shows in ps"


BAD_FILES = [
    ("[mix]\nbitrate = 5\n", "stoa.toml: mix.bitrate: must be 500 to 512000 bit/s, not 5"),
    ("[mix]\ncomplexity = 11\n", "stoa.toml: mix.complexity: must be 0 to 10, not 11"),
    ('[mix]\nmax_mixed = "4"\n', "stoa.toml: mix.max_mixed: must be an integer, not '4'"),
    ("[server]\nport = true\n", "stoa.toml: server.port: must be an integer, not True"),
    ('[server]\ntransport = "pigeon"\n', "stoa.toml: server.transport: must be one of rust, python, not 'pigeon'"),
    ("[spaces]\nabandon_after = 0\n", "stoa.toml: spaces.abandon_after: must be 0.1 to 604800 s, not 0"),
    ('[web]\nhttp_port = "of"\n', "stoa.toml: web.http_port: must be an integer or \"off\", not 'of'"),
    ('[web]\nallow_origins = ["https://a.example/x"]\n', "stoa.toml: web.allow_origins: must be scheme://host"),
    ('[web]\npublic_ws_url = "http://a.example"\n', "stoa.toml: web.public_ws_url: must be a ws:// or wss://"),
    ('[webhooks]\nurls = ["http://a.example/ b"]\n', "stoa.toml: webhooks.urls: must be an http:// or https:// URL"),
    ("[limits]\nrate_limits = 1\n", "stoa.toml: limits.rate_limits: must be true or false, not 1"),
    ('[log]\nlevel = "LOUD"\n', "stoa.toml: log.level: must be one of DEBUG, INFO, WARNING, ERROR, not 'LOUD'"),
    ("[mix]\nbitrat = 32000\n", "stoa.toml: mix.bitrat: no such setting"),
    ("[mixer]\n", "stoa.toml: mixer: no such section"),
    ("mix = 3\n", "stoa.toml: mix: must be a table"),
    ("[mix\n", "stoa.toml: not valid TOML"),
]


@pytest.mark.parametrize(("text", "says"), BAD_FILES, ids=[t for t, _ in BAD_FILES])
def test_each_error_names_the_setting_and_what_it_must_be(tmp_path: Path, text: str, says: str) -> None:
    errors = config.check_file(write(tmp_path, text))
    assert len(errors) == 1, errors
    assert errors[0].startswith(str(tmp_path / "stoa.toml")), errors
    assert says in errors[0].replace(str(tmp_path) + "/", ""), errors


def test_every_error_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    errors = config.check_file(write(tmp_path, "[mix]\nbitrate = 5\ncomplexity = 99\n[server]\nport = -1\n"))
    assert [e.split(": ")[1] for e in errors] == ["mix.bitrate", "mix.complexity", "server.port"]


def test_the_environment_overrides_the_file_and_flags_override_both(tmp_path: Path) -> None:
    file = write(tmp_path, "[mix]\nbitrate = 20000\ncomplexity = 3\nmax_mixed = 2\n")
    env = {
        "STOA_MIX_COMPLEXITY": "7",
        "STOA_MIX_MAX_MIXED": "3",
        "STOA_WEB_ALLOW_ORIGINS": "https://a.org, https://b.org",
    }
    flags = {"mix__max_mixed": "9", "web__allow_origins": ["https://c.org"], "limits__rate_limits": "off"}
    settings = config.load(file, env=env, flags=flags)
    assert (settings.mix.bitrate, settings.mix.complexity, settings.mix.max_mixed) == (20000, 7, 9)
    assert settings.web.allow_origins == ("https://c.org",)
    assert settings.limits.rate_limits is False
    assert config.load(file, env=env).web.allow_origins == ("https://a.org", "https://b.org")


def test_errors_from_the_environment_and_flags_name_where_they_came_from() -> None:
    with pytest.raises(config.SettingsError) as bad:
        config.load(env={"STOA_MIX_BITRATE": "5", "STOA_WEB_HTTP_PORT": "x"}, flags={"mix__max_mixed": "50"})
    assert bad.value.lines == [
        "STOA_WEB_HTTP_PORT: must be an integer or off, not 'x'",
        "STOA_MIX_BITRATE: must be 500 to 512000 bit/s, not 5",
        "--max-mixed (mix.max_mixed): must be 1 to 13, not 50",
    ]


def test_http_port_off_turns_the_http_side_off(tmp_path: Path) -> None:
    assert config.load(write(tmp_path, '[web]\nhttp_port = "off"\n'), env={}).web.http_port is None
    assert config.load(env={}, flags={"web__http_port": "off"}).web.http_port is None
    assert config.gateway_config(config.load(env={}, flags={"web__http_port": "off"})).http_port is None


def test_config_check_exits_1_on_errors_and_0_on_a_good_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", str(write(tmp_path, "[mix]\nbitrate = 5\n"))]) == 1
    assert "mix.bitrate: must be 500 to 512000 bit/s, not 5" in capsys.readouterr().err
    assert main(["config", "sample"]) == 0
    sample = capsys.readouterr().out
    assert main(["config", "check", str(write(tmp_path, sample))]) == 0
    assert capsys.readouterr().out.endswith(": ok\n")


def test_the_hello_timeout_is_the_documented_10_s_unless_set() -> None:
    """The end-to-end test of the hello timeout runs it at 2 s (tests/e2e/test_connections.py)."""
    assert "has not completed `hello` within 10 s is closed with 4003" in (ROOT / "docs" / "protocol.md").read_text()
    assert config.gateway_config(config.load(env={})).hello_timeout_s == 10.0
    assert config.gateway_config(config.load(env={}, flags={"limits__hello_timeout": "2"})).hello_timeout_s == 2.0


def test_operations_doc_holds_the_reference_made_from_the_tree() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text()
    assert config.reference() in doc, "regenerate: python -c 'from gateway import config; print(config.reference())'"
