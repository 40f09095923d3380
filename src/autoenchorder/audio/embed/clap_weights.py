"""Where the CLAP checkpoint comes from: a local Hugging Face snapshot folder, or the Hub.

A *snapshot folder* is what ``huggingface_hub.snapshot_download("laion/clap-htsat-unfused")``
(or ``hf download laion/clap-htsat-unfused --local-dir DIR``) writes: ``config.json``,
``preprocessor_config.json`` and ``model.safetensors`` (``pytorch_model.bin`` instead of the
latter is read too when the folder is given explicitly). A folder written by
``ClapAudioModelWithProjection.save_pretrained`` plus ``ClapFeatureExtractor.save_pretrained``
(the audio tower only) works the same way.

:func:`locate_snapshot` looks, in order, at

1. the folder the user passes (``weights=DIR``),
2. the weight set ``clap`` of :mod:`autoenchorder.audio.embed.weights`:
   ``$AUTOENCHORDER_WEIGHTS/clap/``, then ``$XDG_CACHE_HOME/autoenchorder/weights/clap/``
   (where ``autoenchorder weights fetch clap`` puts it),
3. the Hugging Face cache (``$HF_HUB_CACHE``, ``$HF_HOME/hub`` or
   ``~/.cache/huggingface/hub``), where a snapshot downloaded by any other tool already sits.

Nothing here imports ``transformers`` or ``huggingface_hub`` at module level: they are the
optional extra ``autoenchorder[clap]``, needed only to run or fetch the model.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

from autoenchorder.audio.embed.weights import (
    WEIGHTS_ENV,
    WeightFile,
    WeightSpec,
    locate_weights,
    register_weights,
)
from autoenchorder.errors import ModelError, WeightsError

#: The checkpoint ``autoenchorder weights fetch clap`` downloads (HTSAT-tiny audio tower,
#: RoBERTa text tower, 512-d joint space, 10 s windows at 48 kHz).
CLAP_REPO_ID = "laion/clap-htsat-unfused"
#: The optional extra and the pin it installs.
EXTRA = "clap"
TRANSFORMERS_REQUIREMENT = "transformers==5.23.0"

CONFIG_FILE = "config.json"
PREPROCESSOR_FILE = "preprocessor_config.json"
WEIGHTS_FILE = "model.safetensors"
LEGACY_WEIGHTS_FILE = "pytorch_model.bin"
#: The files ``weights fetch clap`` downloads (the text tokenizer is not needed for audio).
SNAPSHOT_FILES: tuple[str, ...] = (CONFIG_FILE, PREPROCESSOR_FILE, WEIGHTS_FILE)


def missing_extra_message(what: str) -> str:
    """The message shown when the ``clap`` extra is not installed.

    Parameters
    ----------
    what : str
        The missing import, e.g. ``"transformers"``.
    """
    return (
        f"the clap embedder needs Hugging Face {what}, which is not installed: "
        f"pip install 'autoenchorder[{EXTRA}]' (or pip install {TRANSFORMERS_REQUIREMENT})"
    )


def require_transformers() -> ModuleType:
    """Import ``transformers`` or raise a :class:`ModelError` naming the extra.

    Returns
    -------
    module
        The ``transformers`` package.
    """
    try:
        import transformers  # noqa: PLC0415  (optional extra, imported on use)
    except ImportError as exc:
        raise ModelError(missing_extra_message("transformers")) from exc
    return transformers


def snapshot_problems(folder: Path) -> list[str]:
    """What a folder lacks to be a CLAP snapshot (empty: usable).

    Parameters
    ----------
    folder : Path

    Returns
    -------
    list of str
        The missing file names.
    """
    missing = [name for name in (CONFIG_FILE, PREPROCESSOR_FILE) if not (folder / name).is_file()]
    if not any((folder / name).is_file() for name in (WEIGHTS_FILE, LEGACY_WEIGHTS_FILE)):
        missing.append(f"{WEIGHTS_FILE} (or {LEGACY_WEIGHTS_FILE})")
    return missing


def hub_cache_dir() -> Path:
    """The Hugging Face Hub cache, resolved from the environment as ``huggingface_hub`` does."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "huggingface" / "hub"


def hub_repo_dir(repo_id: str = CLAP_REPO_ID) -> Path:
    """The folder of ``repo_id`` inside the Hugging Face cache (which may not exist)."""
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def hub_cached_snapshot(repo_id: str = CLAP_REPO_ID) -> Path | None:
    """A complete snapshot of ``repo_id`` already in the Hugging Face cache, read offline.

    The revision ``refs/main`` points at is preferred; otherwise any complete snapshot.

    Returns
    -------
    Path or None
    """
    repo = hub_repo_dir(repo_id)
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    main = repo / "refs" / "main"
    preferred = snapshots / main.read_text().strip() if main.is_file() else None
    candidates = [preferred] if preferred is not None else []
    candidates += sorted(p for p in snapshots.iterdir() if p.is_dir() and p != preferred)
    for folder in candidates:
        if folder.is_dir() and not snapshot_problems(folder):
            return folder
    return None


def locate_snapshot(weights: str | Path | None = None) -> Path:
    """Find the CLAP snapshot folder to load.

    Parameters
    ----------
    weights : str or Path or None
        A snapshot folder (or a file inside one). ``None``: the weight set ``clap``, then the
        Hugging Face cache.

    Returns
    -------
    Path
        A folder with the config, the preprocessor config and the weights.

    Raises
    ------
    WeightsError
        Nothing usable: the message names every place looked at and
        ``autoenchorder weights fetch clap``.
    """
    if weights is not None:
        folder = Path(weights)
        folder = folder.parent if folder.is_file() else folder
        problems = snapshot_problems(folder)
        if problems:
            raise WeightsError(
                f"{folder} is not a CLAP snapshot folder: missing {', '.join(problems)}. "
                f"Get one with: autoenchorder weights fetch clap, or "
                f"huggingface_hub.snapshot_download({CLAP_REPO_ID!r}) and pass its folder"
            )
        return folder
    try:
        return locate_weights(WEIGHT_SPEC.name)
    except WeightsError as not_found:
        cached = hub_cached_snapshot()
        if cached is not None:
            return cached
        raise WeightsError(
            f"{not_found}\n"
            f"Also looked for a snapshot of {CLAP_REPO_ID} in the Hugging Face cache:\n"
            f"  - {hub_repo_dir()}\n"
            "Or pass weights=DIR, a folder holding config.json, preprocessor_config.json and "
            "model.safetensors."
        ) from None


def fetch_clap(
    spec: WeightSpec,
    target: Path,
    timeout: float = 60.0,
    *,
    repo_id: str = CLAP_REPO_ID,
    revision: str | None = None,
    endpoint: str | None = None,
) -> str:
    """Download the snapshot files of ``repo_id`` from the Hugging Face Hub into ``target``.

    Parameters
    ----------
    spec : WeightSpec
        The ``clap`` weight set (its files are the ones checked afterwards).
    target : Path
        The folder to fill (the weights cache's ``clap/`` folder for ``weights fetch clap``).
    timeout : float
        Seconds to wait for the Hub's answer to each metadata request.
    repo_id, revision : str
        What to download (``revision=None``: the Hub's default branch).
    endpoint : str or None
        The Hub's address; ``None``: ``$HF_ENDPOINT`` or huggingface.co.

    Returns
    -------
    str
        What was done, for the user.

    Raises
    ------
    WeightsError
        ``huggingface_hub`` missing, the Hub unreachable (the message says how to bring the
        folder over by hand) or files missing after the download.
    """
    if not snapshot_problems(target) and (target / WEIGHTS_FILE).is_file():
        return f"{spec.name}: already present in {target}"
    try:
        from huggingface_hub import snapshot_download  # noqa: PLC0415  (optional extra)
        from huggingface_hub.errors import HfHubHTTPError  # noqa: PLC0415
    except ImportError as exc:
        raise WeightsError(missing_extra_message("huggingface_hub")) from exc
    try:
        snapshot_download(
            repo_id,
            revision=revision,
            local_dir=target,
            allow_patterns=list(SNAPSHOT_FILES),
            endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None,
            etag_timeout=timeout,
        )
    except (OSError, ValueError, HfHubHTTPError) as exc:
        raise WeightsError(
            f"could not download {repo_id} from the Hugging Face Hub ({exc}). Without internet "
            f"access, on a machine that has it run `hf download {repo_id} "
            f"{' '.join(SNAPSHOT_FILES)} --local-dir DIR`, then copy DIR to {target} "
            f"(or to ${WEIGHTS_ENV}/{spec.name}/), or pass weights=DIR"
        ) from exc
    missing = [wf.path for wf in spec.files if not (target / wf.path).is_file()]
    if missing:
        raise WeightsError(
            f"the download of {repo_id} into {target} lacks {', '.join(missing)}; if the "
            f"repository only has {LEGACY_WEIGHTS_FILE}, download it by hand and pass "
            "weights=DIR"
        )
    return f"{spec.name}: {repo_id} snapshot downloaded into {target}"


def _setup_clap(spec: WeightSpec, target: Path) -> str:
    # `weights setup clap` has no offline source (no wheel ships the model): it downloads too.
    return fetch_clap(spec, target)


#: Weight set "clap": a Hub snapshot, checked by the Hub's own revision rather than by a
#: SHA-256 pinned here (the files are large and re-published under the same names).
WEIGHT_SPEC = register_weights(
    WeightSpec(
        name="clap",
        files=tuple(WeightFile(name, None) for name in SNAPSHOT_FILES),
        obtain="autoenchorder weights fetch clap",
        description=(
            f"CLAP {CLAP_REPO_ID}: a Hugging Face snapshot folder (config.json, "
            f"preprocessor_config.json, model.safetensors); needs the '{EXTRA}' extra"
        ),
        setup=_setup_clap,
        fetch=fetch_clap,
    )
)
