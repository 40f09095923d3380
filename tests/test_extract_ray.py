"""``extract --engine ray``: the same store as a local run; a killed worker loses nothing.

The Ray tests share the suite's two-node cluster (``tests/ray_cluster.py``). Their corpus is
the project's four real clips plus three bad files; the local reference store is made once.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoenchorder.audio.embed import Embedder, Embedding, register_embedder
from autoenchorder.cli import main
from autoenchorder.data.extract import extract_corpus
from autoenchorder.data.store import FeatureStore
from autoenchorder.engine import EngineSpec
from autoenchorder.errors import ModelError
from ray_cluster import ray_cluster  # noqa: F401  (the session's shared Ray cluster)

# One xdist worker runs this whole module: the Ray cluster and the reference store are made once.
pytestmark = pytest.mark.xdist_group("ray")

#: the bad files and a word of the reason each must be reported with
BAD = {"bad/corrupt.flac": "", "bad/empty.wav": "0 bytes", "bad/text.mp3": "not readable"}
#: the clip whose Ray worker is killed the first time it is embedded (12 s, the only one)
KILLED = "singularity_media_threat_12s"


class Probe:
    """Record the node of every embedding in ``folder``; kill the worker process the first
    time a signal of ``kill_seconds`` is embedded.

    Passed as an embedder option, so a Ray worker that unpickles it imports this module (and
    so knows the ``test-killer`` embedder registered below).
    """

    def __init__(self, folder: Path, kill_seconds: float) -> None:
        self.folder, self.kill_seconds = folder, kill_seconds

    def __repr__(self) -> str:
        return f"Probe(kill at {self.kill_seconds} s)"

    def nodes(self) -> set[str]:
        """The nodes that embedded something."""
        return {p.name.split("_")[0] for p in self.folder.glob("*_*")}

    def check(self, y: np.ndarray, sr: int) -> None:
        import ray

        node = ray.get_runtime_context().get_node_id()
        (self.folder / f"{node}_{os.getpid()}_{time.monotonic_ns()}").touch()
        if abs(y.size / sr - self.kill_seconds) < 0.05:
            try:
                os.close(os.open(self.folder / "killed", os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
            os.kill(os.getpid(), signal.SIGKILL)


class _KillerMeans(Embedder):
    """A cheap deterministic embedder (0.5 s means and energies) that may kill its process."""

    name, version, sample_rate, window_seconds, hop_seconds, dim = (
        "test-killer",
        "1",
        16000,
        0.5,
        0.5,
        2,
    )

    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    def embed(self, y: np.ndarray, sr: int) -> Embedding:
        self.probe.check(y, sr)
        n = int(self.window_seconds * sr)
        windows = y[: len(y) // n * n].reshape(-1, n)
        frames = np.stack([windows.mean(1), (windows**2).mean(1)], axis=1).astype(np.float32)
        return Embedding(frames=frames, times=np.arange(len(frames)) * self.hop_seconds)


register_embedder("test-killer")(_KillerMeans)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, example_audio: Path) -> Path:
    """The four real clips and three bad files."""
    root = tmp_path_factory.mktemp("ray-corpus")
    for clip in example_audio.iterdir():
        if clip.suffix in {".ogg", ".mp3", ".wav", ".flac"}:
            shutil.copy(clip, root / clip.name)
    (root / "bad").mkdir()
    flac = next(example_audio.glob("*.flac")).read_bytes()
    (root / "bad/corrupt.flac").write_bytes(flac[:64] + bytes(range(256)) * 40)
    (root / "bad/empty.wav").write_bytes(b"")
    (root / "bad/text.mp3").write_text("this is not audio\n" * 20)
    return root


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory) -> FeatureStore:
    """A local run (in this process) with musicnn's sequences: what a Ray run must equal."""
    from autoenchorder.audio.embed.weights import locate_weights
    from autoenchorder.errors import WeightsError

    try:
        locate_weights("musicnn")
    except WeightsError as exc:
        pytest.skip(f"musicnn weights absent (`autoenchorder weights setup musicnn`): {exc}")
    root = tmp_path_factory.mktemp("ray-reference") / "store"
    extract_corpus(corpus, root, embedder="musicnn-msd")
    return FeatureStore(root)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("track_id", "stage") if c in frame.columns]
    return frame.sort_values(keys).reset_index(drop=True)


def _assert_same_rows_and_failures(
    store: FeatureStore, reference: FeatureStore, embedder: str = "musicnn-msd"
) -> None:
    table = store.read_table()
    assert not table["track_id"].duplicated().any()
    pd.testing.assert_frame_equal(_sorted(table), _sorted(reference.read_table()))
    columns = ["path", "track_id", "stage", "reason"]
    failures = store.failures()[columns]
    # The reference's sequences are musicnn's; a bad file fails that stage for the same reason.
    failures["stage"] = failures["stage"].replace(f"seq:{embedder}", "seq:musicnn-msd")
    pd.testing.assert_frame_equal(_sorted(failures), _sorted(reference.failures()[columns]))


def test_reference_reports_each_bad_file(reference: FeatureStore) -> None:
    failures = reference.failures()
    assert sorted(set(failures["path"])) == sorted(BAD)
    for path, word in BAD.items():
        assert all(word in reason for reason in failures.loc[failures["path"] == path, "reason"])
    assert len(reference.read_table()) == 4


def test_musicnn_device_auto_is_this_machines(reference: FeatureStore) -> None:
    import torch

    from autoenchorder.audio.embed import get_embedder

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_embedder("musicnn-msd", device="auto").device.type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="CUDA is not available"):
            get_embedder("musicnn-msd", device="cuda")


def test_cli_refuses_ray_options_on_the_local_engine(corpus: Path, tmp_path: Path) -> None:
    out = ["--out", str(tmp_path / "s"), "--quiet"]
    assert main(["extract", str(corpus), *out, "--gpus-per-worker", "1"]) == 2
    assert main(["extract", str(corpus), *out, "--address", "auto"]) == 2
    assert main(["extract", str(corpus), *out, "--device", "cuda"]) == 2  # no --embedder
    assert not (tmp_path / "s").exists()


@pytest.mark.usefixtures("ray_cluster")
def test_ray_extract_equals_local(  # noqa: D103
    corpus: Path,
    reference: FeatureStore,
    tmp_path: Path,
    capsys,  # noqa: F811
) -> None:
    store_root = tmp_path / "ray-store"
    args = ["extract", str(corpus), "--out", str(store_root), "--engine", "ray"]
    # 3 actors asked of a 2-CPU cluster: the pool starts with the 2 that fit.
    status = main([*args, "--workers", "3", "--embedder", "musicnn-msd", "--device", "auto"])
    assert status == 0
    assert "bad/text.mp3" in capsys.readouterr().out
    store = FeatureStore(store_root)
    _assert_same_rows_and_failures(store, reference)
    ours, theirs = store.read_sequences("musicnn-msd"), reference.read_sequences("musicnn-msd")
    assert sorted(ours) == sorted(theirs) and len(ours) == 4
    for track, embedding in theirs.items():
        np.testing.assert_allclose(ours[track].frames, embedding.frames, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(ours[track].times, embedding.times)


def test_ray_worker_killed_mid_extract_on_two_nodes_loses_nothing(  # noqa: D103
    ray_cluster,  # noqa: F811
    corpus: Path,
    reference: FeatureStore,
    tmp_path: Path,
) -> None:
    probe = Probe(tmp_path, kill_seconds=12.0)
    store_root = tmp_path / "store"
    summary = extract_corpus(
        corpus,
        store_root,
        engine=EngineSpec("ray", workers=2),
        embedder="test-killer",
        embedder_options={"probe": probe},
        shard_size=2,
    )
    assert (tmp_path / "killed").exists(), "no worker was killed"
    # Both nodes of the cluster embedded songs.
    nodes = {node.node_id for node in ray_cluster.list_all_nodes()}
    assert len(nodes) == 2 and probe.nodes() == nodes
    assert (summary.done, summary.failed) == (4, 3)
    store = FeatureStore(store_root)
    _assert_same_rows_and_failures(store, reference, embedder="test-killer")
    assert KILLED not in set(store.failures()["track_id"])
    sequences = store.read_sequences("test-killer")
    assert sorted(sequences) == sorted(reference.read_table()["track_id"])
