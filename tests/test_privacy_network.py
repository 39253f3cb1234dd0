"""Privacy: opening, analysing and exporting a study never touches the network."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "batch"))  # shared test-data helpers

from batch_support import make_tiny_model, write_dx  # noqa: E402


class NetworkUsed(AssertionError):
    pass


def _refuse(*args: object, **kwargs: object) -> None:
    raise NetworkUsed(f"network access attempted: {args[:2]}")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way to reach another host raises; records attempts that were swallowed."""
    attempts: list[str] = []

    def refuse(name: str):
        def _inner(*args: object, **kwargs: object) -> None:
            attempts.append(name)
            _refuse(*args, **kwargs)
        return _inner

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    monkeypatch.setattr(socket.socket, "sendto", refuse("sendto"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "gethostbyname", refuse("gethostbyname"))
    return attempts


def test_the_guard_works(no_network: list[str]) -> None:
    with pytest.raises(NetworkUsed):
        socket.create_connection(("127.0.0.1", 9))
    with pytest.raises(NetworkUsed):
        socket.getaddrinfo("example.org", 80)
    assert no_network == ["create_connection", "getaddrinfo"]


def test_open_analyse_export_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             no_network: list[str]) -> None:
    make_tiny_model(tmp_path / "models")
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path / "models"))
    write_dx(tmp_path / "in" / "a.dcm")
    from vcfviewer.batch.task import clear_model_cache
    from vcfviewer.io.loader import load_path_sync

    clear_model_cache()
    assert load_path_sync(tmp_path / "in" / "a.dcm").rows == 192  # open
    from vcfviewer.__main__ import main

    # scan + load + model + analyse + measure + every export format, all in this process
    rc = main(["analyze", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--workers", "0",
               "--quiet", "--formats", "json,csv,sr,seg,key_image,training_set"])
    assert rc == 0
    assert len(list((tmp_path / "out").rglob("*.sr.dcm"))) == 1
    assert no_network == []  # nothing tried (and swallowed) a connection either
