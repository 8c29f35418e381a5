"""``quantgrid remote login`` stores the URL and token in a file only its owner can read."""

from __future__ import annotations

import stat

import pytest

from quantgrid.client import Client, NotConfigured, config


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_saved_credentials_are_private_and_load_back(config_home):
    path = config.save("http://qg.test:8000", "qg_secret")
    assert path == config_home / "quantgrid" / "remote.json"
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert config.load() == ("http://qg.test:8000", "qg_secret")
    assert Client.from_config().url == "http://qg.test:8000"


def test_an_existing_loose_file_and_directory_are_tightened(config_home):
    directory = config_home / "quantgrid"
    directory.mkdir(parents=True, mode=0o755)
    (directory / "remote.json").write_text("{}")
    (directory / "remote.json").chmod(0o644)
    config.save("http://qg.test", "qg_secret")
    assert _mode(directory / "remote.json") == 0o600 and _mode(directory) == 0o700


def test_without_login_it_says_how_to_log_in():
    with pytest.raises(NotConfigured, match="quantgrid remote login URL"):
        Client.from_config()
    assert config.forget() is False


def test_forget_deletes_them():
    config.save("http://qg.test", "qg_secret")
    assert config.forget() is True
    with pytest.raises(NotConfigured):
        config.load()
