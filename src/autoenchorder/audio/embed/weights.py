"""Where pretrained weights live, how they are checked and how a user gets them.

Every embedder's weight files are described by a :class:`WeightSpec` (file names with their
SHA-256, optional download URLs, an installed Python distribution that may ship them, and the
command that obtains them). :func:`locate_weights` looks, in order, in

1. ``$AUTOENCHORDER_WEIGHTS/<spec name>/``,
2. ``$XDG_CACHE_HOME/autoenchorder/weights/<spec name>/`` (``~/.cache/...`` by default),
3. the installed distribution (e.g. the ``musicnn`` package's own folder),

and, when the files are nowhere, raises a :class:`~autoenchorder.errors.WeightsError` that names
the missing file, every folder searched and the command that gets them. Nothing here imports
torch, so ``autoenchorder weights setup musicnn`` is fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from autoenchorder.atomic import write_atomic
from autoenchorder.errors import WeightsError

#: Environment variable naming a folder of weights that is searched first.
WEIGHTS_ENV = "AUTOENCHORDER_WEIGHTS"


@dataclass(frozen=True)
class WeightFile:
    """One file of a weight set.

    Attributes
    ----------
    path : str
        Path relative to the weight set's folder (posix), e.g. ``"MSD_musicnn/.index"``.
    sha256 : str or None
        Expected SHA-256 (hex) of the file, or a prefix of it of at least 8 digits where only
        that is published (torch hub's file names carry the first 8, and it checks only those).
        ``None``: not pinned here; the set's own ``fetch`` (e.g. a Hugging Face Hub snapshot)
        is trusted for the content, and only the file's presence is checked.
    url : str or None
        Where :func:`fetch_weights` downloads it from (``None``: obtained another way).
    """

    path: str
    sha256: str | None
    url: str | None = None

    def __post_init__(self) -> None:
        if self.sha256 is not None and len(self.sha256) < 8:
            raise ValueError(f"{self.path}: a SHA-256 (prefix) of at least 8 hex digits is needed")

    def matches(self, digest: str) -> bool:
        """Whether a file's SHA-256 hex digest is the expected one (or starts with the prefix)."""
        return self.sha256 is None or digest.startswith(self.sha256.lower())


@dataclass(frozen=True)
class WeightSpec:
    """A named set of weight files and how to obtain them.

    Attributes
    ----------
    name : str
        Registry name, also the folder name under each search root (``"musicnn"``).
    files : tuple of WeightFile
        The files, all of which must be present.
    obtain : str
        The shell command that gets the files, quoted in error messages.
    description : str
        One line for ``autoenchorder weights list``.
    distribution : str or None
        An installed Python distribution that ships the files (searched last).
    distribution_dir : str
        The folder inside that distribution holding ``files`` (e.g. ``"musicnn"``).
    setup : callable or None
        ``setup(spec, target_dir) -> str`` that puts the files in ``target_dir`` by means other
        than plain URLs (e.g. a ``pip download``); returns a description of what it did.
    fetch : callable or None
        ``fetch(spec, target_dir, timeout) -> str``: what :func:`fetch_weights` runs instead of
        the per-file URL downloads (e.g. a Hugging Face Hub snapshot).
    """

    name: str
    files: tuple[WeightFile, ...]
    obtain: str
    description: str = ""
    distribution: str | None = None
    distribution_dir: str = ""
    setup: Callable[[WeightSpec, Path], str] | None = field(default=None, compare=False)
    fetch: Callable[[WeightSpec, Path, float], str] | None = field(default=None, compare=False)


_SPECS: dict[str, WeightSpec] = {}


def register_weights(spec: WeightSpec) -> WeightSpec:
    """Add (or replace) a weight set in the registry.

    Parameters
    ----------
    spec : WeightSpec

    Returns
    -------
    WeightSpec
        ``spec`` itself, so modules can write ``SPEC = register_weights(WeightSpec(...))``.
    """
    _SPECS[spec.name] = spec
    return spec


def get_weight_spec(name: str) -> WeightSpec:
    """Look a weight set up by name (importing the built-in embedders' specs if needed).

    Raises
    ------
    WeightsError
        Unknown name.
    """
    if name not in _SPECS:
        _load_embedder_specs()
    if name not in _SPECS:
        raise WeightsError(f"unknown weights {name!r}; known: {', '.join(sorted(_SPECS))}")
    return _SPECS[name]


def available_weight_specs() -> list[WeightSpec]:
    """All registered weight sets (including those the built-in embedders register), by name."""
    _load_embedder_specs()
    return [_SPECS[name] for name in sorted(_SPECS)]


def _load_embedder_specs() -> None:
    # Embedder modules register their weight specs when imported.
    from autoenchorder.audio.embed.base import _load_builtin_embedders  # noqa: PLC0415

    # A broken optional embedder must not hide the other embedders' weights.
    with contextlib.suppress(ImportError):
        _load_builtin_embedders()


def cache_dir() -> Path:
    """The per-user weights cache: ``$XDG_CACHE_HOME/autoenchorder/weights``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autoenchorder" / "weights"


def search_dirs(spec: WeightSpec) -> list[Path]:
    """Folders searched for ``spec``'s files, in order.

    Parameters
    ----------
    spec : WeightSpec

    Returns
    -------
    list of Path
        ``$AUTOENCHORDER_WEIGHTS/<name>`` (if set), the cache, then the installed distribution's
        folder (if installed).
    """
    dirs: list[Path] = []
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        dirs.append(Path(env) / spec.name)
    dirs.append(cache_dir() / spec.name)
    if spec.distribution:
        try:
            dist = metadata.distribution(spec.distribution)
        except metadata.PackageNotFoundError:
            pass
        else:
            dirs.append(Path(str(dist.locate_file(spec.distribution_dir))))
    return dirs


def sha256_file(path: str | Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _complete(spec: WeightSpec, folder: Path, *, verify: bool) -> bool:
    for wf in spec.files:
        path = folder / wf.path
        if not path.is_file():
            return False
        if verify and wf.sha256 is not None and not wf.matches(sha256_file(path)):
            return False
    return True


def locate_weights(name: str, *, verify: bool = False) -> Path:
    """Find the folder that holds all of a weight set's files.

    Parameters
    ----------
    name : str
        A registered weight set, e.g. ``"musicnn"``.
    verify : bool
        Also check every file's SHA-256 (folders failing it are skipped).

    Returns
    -------
    Path
        The first searched folder holding every file of the set.

    Raises
    ------
    WeightsError
        Not found: the message names the first missing file, the folders searched and the
        command that obtains the weights.
    """
    spec = get_weight_spec(name)
    dirs = search_dirs(spec)
    for folder in dirs:
        if _complete(spec, folder, verify=verify):
            return folder
    missing = spec.files[0].path
    for wf in spec.files:
        if not any((d / wf.path).is_file() for d in dirs):
            missing = wf.path
            break
    searched = "\n".join(f"  - {d}" for d in dirs)
    checked = " with the expected SHA-256" if verify else ""
    raise WeightsError(
        f"weights {name!r} not found: no complete copy of {missing}{checked} in any of\n"
        f"{searched}\n"
        f"Get them with: {spec.obtain}  (or put the files under ${WEIGHTS_ENV}/{name}/)"
    )


def verify_folder(spec: WeightSpec, folder: Path) -> list[str]:
    """Check a folder against a spec.

    Returns
    -------
    list of str
        One problem per file that is missing or has the wrong SHA-256 (empty: all good).
    """
    problems = []
    for wf in spec.files:
        path = folder / wf.path
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif wf.sha256 is not None and not wf.matches(actual := sha256_file(path)):
            problems.append(f"{path}: SHA-256 {actual} != expected {wf.sha256}")
    return problems


def setup_weights(name: str) -> str:
    """Make a weight set available (idempotent; fast when already done).

    Parameters
    ----------
    name : str
        A registered weight set.

    Returns
    -------
    str
        What was found or done, for the user.

    Raises
    ------
    WeightsError
        The files could not be obtained or failed their checksums.
    """
    spec = get_weight_spec(name)
    for folder in search_dirs(spec):
        if _complete(spec, folder, verify=True):
            checked = "checksums verified" if all(wf.sha256 for wf in spec.files) else "present"
            return f"{name}: already present in {folder} ({checked})"
    target = cache_dir() / spec.name
    if spec.setup is not None:
        done = spec.setup(spec, target)
    elif any(wf.url for wf in spec.files):
        done = fetch_weights(name)
    else:
        raise WeightsError(f"weights {name!r} have no automatic setup; {spec.obtain}")
    problems = verify_folder(spec, target)
    if problems:
        raise WeightsError(f"weights {name!r} failed verification:\n" + "\n".join(problems))
    return done


def fetch_weights(name: str, *, timeout: float = 60.0) -> str:
    """Download a weight set's files from their URLs into the cache, checking SHA-256.

    A set with its own ``fetch`` (e.g. ``clap``, a Hugging Face Hub snapshot) runs that instead.

    Parameters
    ----------
    name : str
        A registered weight set whose files have URLs (or that has a ``fetch``).
    timeout : float
        Socket timeout per request, seconds.

    Returns
    -------
    str
        Where the files are.

    Raises
    ------
    WeightsError
        No URLs, a network failure (the message says where to put the files by hand), or a
        checksum mismatch (the bad download is deleted).
    """
    spec = get_weight_spec(name)
    target = cache_dir() / spec.name
    if spec.fetch is not None:
        return spec.fetch(spec, target, timeout)
    fetched = 0
    for wf in spec.files:
        dest = target / wf.path
        if dest.is_file() and wf.matches(sha256_file(dest)):
            continue
        if not wf.url:
            raise WeightsError(f"{wf.path} of weights {name!r} has no download URL; {spec.obtain}")
        _download(wf, dest, timeout=timeout, name=name)
        fetched += 1
    return f"{name}: {fetched} file(s) downloaded, all present in {target}"


def _download(wf: WeightFile, dest: Path, *, timeout: float, name: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(wf.url, timeout=timeout) as response, open(part, "wb") as out:  # noqa: S310
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise WeightsError(
            f"could not download {wf.url} ({reason}). Without internet access, download it "
            f"elsewhere and copy it to {dest} (or to ${WEIGHTS_ENV}/{name}/{wf.path})"
        ) from exc
    if not wf.matches(digest.hexdigest()):
        part.unlink(missing_ok=True)
        raise WeightsError(
            f"download of {wf.url} has SHA-256 {digest.hexdigest()}, expected {wf.sha256}; "
            "the file was deleted"
        )
    part.replace(dest)


# --------------------------------------------------------------------------------------------
# musicnn: the TensorFlow checkpoints shipped in the PyPI wheel musicnn==0.1.0
# --------------------------------------------------------------------------------------------

MUSICNN_REQUIREMENT = "musicnn==0.1.0"


def _setup_musicnn(spec: WeightSpec, target: Path) -> str:
    """Copy the checkpoints out of a cached or freshly ``pip download``-ed musicnn wheel.

    (An installed ``musicnn`` distribution is found by :func:`setup_weights` before this runs.)
    A cached wheel whose files fail their checksums is deleted and downloaded again, once.
    """
    downloads = cache_dir() / "downloads"
    for wheel in sorted(downloads.glob("musicnn-0.1.0-*.whl")) if downloads.is_dir() else []:
        try:
            extract_from_wheel(spec, wheel, target)
        except WeightsError:
            pass
        else:
            if not verify_folder(spec, target):
                return f"{spec.name}: checkpoints extracted from the cached wheel into {target}"
        wheel.unlink()  # corrupt or wrong wheel: fetch a fresh one
    wheel = _pip_download_musicnn(downloads, target)
    extract_from_wheel(spec, wheel, target)
    return (
        f"{spec.name}: checkpoints extracted from {MUSICNN_REQUIREMENT} downloaded with pip "
        f"into {target}"
    )


def _pip_download_musicnn(downloads: Path, target: Path) -> Path:
    downloads.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--dest",
        str(downloads),
        MUSICNN_REQUIREMENT,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(downloads.glob("musicnn-0.1.0-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise WeightsError(
            f"`pip download --no-deps {MUSICNN_REQUIREMENT}` failed: {' | '.join(tail)}. "
            f"Alternatively `pip install --no-deps {MUSICNN_REQUIREMENT}`, or copy the "
            f"checkpoint folders MSD_musicnn/ and MTT_musicnn/ to {target}"
        )
    return wheels[-1]


def extract_from_wheel(spec: WeightSpec, wheel: Path, target: Path) -> None:
    """Extract a spec's files from a wheel (zip) whose folder ``spec.distribution_dir`` has them.

    Each file is written atomically (a temporary name, then renamed), so an interrupted setup
    never leaves a truncated checkpoint behind.
    """
    try:
        with zipfile.ZipFile(wheel) as zf:
            for wf in spec.files:
                member = f"{spec.distribution_dir}/{wf.path}" if spec.distribution_dir else wf.path
                write_atomic(target / wf.path, lambda tmp, m=member: _copy_member(zf, m, tmp))
    except (KeyError, zipfile.BadZipFile, OSError) as exc:
        raise WeightsError(f"cannot extract {spec.name} weights from {wheel}: {exc}") from exc


def _copy_member(archive: zipfile.ZipFile, member: str, dest: Path) -> None:
    with archive.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)


MUSICNN_WEIGHTS = register_weights(
    WeightSpec(
        name="musicnn",
        files=(
            WeightFile(
                "MSD_musicnn/.index",
                "87f3e0f3550c8d3bafc840374003e5c8af5eeb5ecf6add61af09a7822d3282c8",
            ),
            WeightFile(
                "MSD_musicnn/.data-00000-of-00001",
                "8579734ee6388f799ed0def4bbd0d1fdcbeaf213ef2a9dc860917bd76a303de6",
            ),
            WeightFile(
                "MTT_musicnn/.index",
                "da2d7bb670b2b31e9bc441bb1bd75eca31b5b061f963cc1f9630c1aff3238f57",
            ),
            WeightFile(
                "MTT_musicnn/.data-00000-of-00001",
                "041f3935e981a65cea739842d30c188d3a7d2adf4410955c8668eb3de4a5acab",
            ),
        ),
        obtain="autoenchorder weights setup musicnn",
        description="musicnn MSD/MTT TensorFlow checkpoints from the PyPI wheel musicnn==0.1.0",
        distribution="musicnn",
        distribution_dir="musicnn",
        setup=_setup_musicnn,
    )
)
