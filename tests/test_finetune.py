"""musicnn fine-tuned in series: the log-mel patch cache, ``autoenchorder-finetune``, the study.

The network tests use the real musicnn (MSD) weights of the PyPI wheel, on a few patches.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from autoenchorder.audio.embed import get_embedder
from autoenchorder.audio.embed import musicnn_frontend as fe
from autoenchorder.audio.embed.musicnn import PATCH_DIM, load_musicnn_net
from autoenchorder.audio.io import load_audio
from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS
from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.patches import (
    PATCH_EMBEDDER,
    PATCH_SHAPE,
    cache_patches,
    read_patches,
    subset_store,
)
from autoenchorder.data.store import FeatureStore
from autoenchorder.models.autoenchorder_finetune import FINETUNE_FROM, MusicnnSeries
from autoenchorder.models.registry import make_model, model_from_state


def _song(path: Path, seconds: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    sr = 22050
    t = np.arange(int(seconds * sr)) / sr
    tone = 0.3 * np.sin(2 * np.pi * (220 + 110 * seed) * t) + 0.05 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone.astype(np.float32), sr)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three short songs: 7 s (2 patches), 10 s (3 patches) and 4 s (1 patch)."""
    audio = tmp_path_factory.mktemp("corpus") / "audio"
    for k, seconds in enumerate((7.0, 10.0, 4.0)):
        _song(audio / f"song{k}.wav", seconds, k)
    return audio


@pytest.fixture(scope="module")
def net():
    return load_musicnn_net("msd")


# ------------------------------------------------------------------ the patch cache


def test_patches_are_cached_read_back_and_resumed(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = cache_patches(corpus, store, track_ids={"song0", "song1"})
    assert (first.done, first.failed) == (2, 0)  # song2 is not asked for: not touched
    patches = read_patches(store)
    assert sorted(patches) == ["song0", "song1"]
    assert patches["song0"].shape == (2, *PATCH_SHAPE)
    assert patches["song1"].shape == (3, *PATCH_SHAPE)
    assert patches["song0"].dtype == np.float32
    # exactly musicnn's input: the log-mel of the resampled song, cut into 187-frame patches
    y, _ = load_audio(corpus / "song1.wav", sr=fe.SAMPLE_RATE, mono=True)
    logmel = fe.log_mel(y)
    for k in range(3):
        expected = logmel[k * fe.PATCH_FRAMES : (k + 1) * fe.PATCH_FRAMES]
        np.testing.assert_allclose(patches["song1"][k], expected, atol=1e-4)
    # resumable: a second run does only what is missing
    second = cache_patches(corpus, store)
    assert (second.done, second.skipped) == (1, 2)
    assert read_patches(store)["song2"].shape == (1, *PATCH_SHAPE)
    manifest = FeatureStore(store).manifest
    assert manifest["embedders"][PATCH_EMBEDDER]["dim"] == PATCH_DIM


def test_subset_store_copies_rows_and_sequences(corpus: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    cache_patches(corpus, source)
    dest = subset_store(source, tmp_path / "dest", ["song2", "song0"], embedders=(PATCH_EMBEDDER,))
    assert sorted(dest.read_table()["track_id"]) == ["song0", "song2"]
    copied, original = read_patches(dest.root), read_patches(source)
    assert sorted(copied) == ["song0", "song2"]
    np.testing.assert_array_equal(copied["song0"], original["song0"])
    src_row = FeatureStore(source).read_table().set_index("track_id").loc["song0"]
    dst_row = dest.read_table().set_index("track_id").loc["song0"]
    assert src_row[list(LOWLEVEL_COLUMNS)].equals(dst_row[list(LOWLEVEL_COLUMNS)])
    shards = len(list((tmp_path / "dest" / "shards").iterdir()))
    subset_store(source, tmp_path / "dest", ["song0"], embedders=(PATCH_EMBEDDER,))
    assert len(list((tmp_path / "dest" / "shards").iterdir())) == shards  # nothing again


def test_untrained_series_gives_musicnn_msd_frames(corpus: Path, net) -> None:
    """The fine-tune model starts from exactly the frozen embeddings (same patches, weights)."""
    frames = get_embedder(PATCH_EMBEDDER).embed_file(corpus / "song1.wav").frames
    frozen = get_embedder("musicnn-msd").embed_file(corpus / "song1.wav").frames
    for where in FINETUNE_FROM:
        series = MusicnnSeries(net, where)
        held = series.hold([frames], batch=2, device=torch.device("cpu"))
        np.testing.assert_allclose(series.frames(held)[0], frozen, atol=1e-4)


# ------------------------------------------------------------------ the network


@pytest.mark.parametrize("where", FINETUNE_FROM)
def test_only_the_unfrozen_part_gets_gradients_and_moves(where: str, net) -> None:
    net = copy.deepcopy(net)
    series = MusicnnSeries(net, where)
    series.unfreeze()
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    patches = torch.rand(2, fe.PATCH_FRAMES, fe.N_MELS) * 3
    optimizer = torch.optim.SGD(series.parameters, lr=0.1)
    series.upper(series.prefix(patches)).pow(2).mean().backward()
    optimizer.step()
    trainable = {id(p) for p in series.parameters}
    for name, p in net.named_parameters():
        moved = not torch.equal(p.detach(), before[name])
        if id(p) in trainable:
            assert p.grad is not None and moved, name
        else:
            assert p.grad is None and not moved, name
    kinds = {name.split(".")[0] for name, p in net.named_parameters() if id(p) in trainable}
    expected = {"backend": {"dense"}, "midend": {"dense", "midend"}}
    assert kinds == expected.get(where, {"dense", "midend", "frontend"})


def _dataset(n: int, seed: int, patches: tuple[int, int] = (1, 3)) -> PopularityDataset:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        rng.normal(size=(n, len(LOWLEVEL_COLUMNS))), columns=list(LOWLEVEL_COLUMNS)
    )
    sequences = [
        rng.uniform(0, 3, size=(int(rng.integers(*patches)), PATCH_DIM)).astype(np.float32)
        for _ in range(n)
    ]
    # popularity depends on the songs' spectra (their loudness), so the series can learn it
    loudness = np.array([s.mean() for s in sequences])
    y = 100 * (loudness - loudness.min()) / np.ptp(loudness)
    return PopularityDataset(
        ids=[f"t{i}" for i in range(n)],
        y=y,
        tabular=table,
        column_groups={"lowlevel": list(LOWLEVEL_COLUMNS)},
        sequences=sequences,
        artist=[f"a{i % 5}" for i in range(n)],
    )


@pytest.fixture(scope="module")
def fitted():
    ds = _dataset(14, seed=0, patches=(2, 4))
    model = make_model(
        "autoenchorder-finetune",
        quiet=True,
        ae_epochs=2,
        epochs=3,
        finetune_epochs=3,
        patience=3,
    )
    return model.fit(ds), ds


def test_fit_runs_the_series_stage_and_moves_musicnn(fitted, net) -> None:
    model, ds = fitted
    stages = [h["stage"] for h in model.history_]
    assert stages.count("musicnn-series") >= 1
    assert "finetune" not in stages  # the series stage replaces the frozen end-to-end one
    # the back-end trains in the series stage, but the stage keeps the weights it started from
    # when no epoch beats them on the validation rows (here, 1-2 songs); that it moves is shown
    # by test_series_stage_fits_a_tiny_training_set. The frozen layers never move.
    assert torch.equal(model.musicnn_.midend[0].weight, net.midend[0].weight)
    assert torch.equal(model.musicnn_.frontend[0].weight, net.frontend[0].weight)
    prediction = model.predict(ds)
    assert prediction.shape == (len(ds),) and np.isfinite(prediction).all()


def test_state_round_trip_predicts_identically(fitted) -> None:
    model, ds = fitted
    meta, arrays = model.to_state()
    assert any(k.startswith("musicnn.") for k in arrays)  # the tuned weights travel
    again = model_from_state(json.loads(json.dumps(meta)), arrays)
    some = ds.take([0, 5, 9])
    np.testing.assert_array_equal(again.predict(some), model.predict(some))
    np.testing.assert_array_equal(again.codes(some), model.codes(some))


def test_series_stage_fits_a_tiny_training_set(net) -> None:
    """Overfit: with the regressor barely trained, the series stage alone fits 12 songs."""
    ds = _dataset(12, seed=1, patches=(2, 4))
    model = make_model(
        "autoenchorder-finetune",
        quiet=True,
        ae_epochs=1,
        epochs=1,
        finetune_epochs=150,
        patience=None,
        finetune_lr=1e-3,
        musicnn_lr=1e-4,
        frame_noise=0.0,
        dropout=0.0,
        batch_size=12,
    )
    val = dataclasses.replace(ds, ids=[f"v{i}" for i in range(len(ds))])  # the same songs
    model.fit(ds, val=val)
    series = [h for h in model.history_ if h["stage"] == "musicnn-series"]
    assert min(h["train_loss"] for h in series) < 0.01 * series[0]["train_loss"]
    baseline = np.abs(ds.y - ds.y.mean()).mean()
    assert np.abs(model.predict(ds) - ds.y).mean() < 0.1 * baseline
    assert not torch.equal(model.musicnn_.dense.weight, net.dense.weight)


# ------------------------------------------------------------------ the study


def test_study_plans_both_fits_on_the_same_songs(tmp_path: Path) -> None:
    from rich.console import Console

    from autoenchorder.data.extract import extract_corpus
    from autoenchorder.data.procedural.generate import CorpusConfig, write_corpus
    from autoenchorder.study import finetune as study
    from autoenchorder.study.extras import StudyContext
    from autoenchorder.study.plan import DemoPlan
    from autoenchorder.study.settings import DemoSettings
    from autoenchorder.train.jobs import loaded

    corpus, demo_store = tmp_path / "corpus", tmp_path / "store"
    # seed 34: three artists among 8 songs (blocks 3, 3, 2), so the grouped split works
    write_corpus(CorpusConfig(n=8, seed=34, min_duration=3.5, max_duration=4.0), corpus)
    extract_corpus(corpus / "audio", demo_store, embedder="musicnn-msd")
    settings = DemoSettings.quick(tmp_path / "run", studies=("finetune",), workers=1)
    plan = DemoPlan()
    console = Console(quiet=True)
    study.plan_study(StudyContext(settings, console, plan, lambda: (corpus, demo_store)))

    frozen, patches = plan.data[study.FROZEN_DATA], plan.data[study.PATCH_DATA]
    assert frozen.spec.embedder == "musicnn-msd" and patches.spec.embedder == PATCH_EMBEDDER
    (ds_f, split_f), (ds_p, split_p) = loaded(frozen), loaded(patches)
    assert len(ds_f) == 8 and list(ds_f.ids) == list(ds_p.ids)
    assert list(split_f.test_ids) == list(split_p.test_ids)
    assert ds_p.sequence_dim == PATCH_DIM and ds_f.sequence_dim == 200
    jobs = {job.key: job for job in plan.jobs}
    assert jobs[study.TUNED].model == "autoenchorder-finetune"
    assert jobs[study.TUNED].data == study.PATCH_DATA
    assert (jobs[study.FROZEN].model, jobs[study.FROZEN].data) == ("autoenchorder", "finetune")
    assert {job.study for job in plan.jobs} == {"finetune"}
    writer = plan.recorders["finetune"].writer
    headline = {"model_a": study.TUNED, "model_b": study.FROZEN, "target": "matches"}
    assert writer.meta["headline"] == headline
    assert "study store and log-mel patches" in writer.meta["timings"]
    # the finisher states the fine-tune's cost once both fits are in
    writer.meta["models"][study.FROZEN]["fit_seconds"] = 10.0
    writer.meta["models"][study.TUNED]["fit_seconds"] = 25.0
    for _, finish in plan.finishers:
        finish()
    assert any("25 s against 10 s" in note for note in writer.meta["notes"])
    # the full study takes a seeded sample of the corpus' songs
    sample = study.study_songs(corpus, demo_store, n=5, seed=0)
    assert len(sample) == 5 and sample == sorted(sample) and set(sample) <= set(ds_f.ids)
    assert sample == study.study_songs(corpus, demo_store, n=5, seed=0)
    # resumable: planning again caches nothing twice
    again = DemoPlan()
    study.plan_study(StudyContext(settings, console, again, lambda: (corpus, demo_store)))
    assert list(loaded(again.data[study.PATCH_DATA])[0].ids) == list(ds_p.ids)


def test_bundle_scores_audio_through_the_patch_embedder(fitted, corpus: Path, tmp_path) -> None:
    """predict on audio: the bundle names musicnn-logmel, the Predictor computes the patches."""
    from autoenchorder.bundle import feature_spec_from_dataset, save_bundle
    from autoenchorder.predict import Predictor

    model, ds = fitted
    spec = feature_spec_from_dataset(ds, groups=["lowlevel"], embedder={"name": PATCH_EMBEDDER})
    folder = save_bundle(model, tmp_path / "bundle", feature_spec=spec)
    predictor = Predictor.load(folder, max_windows=0, mc_passes=0)
    song = predictor.predict(corpus / "song1.wav")
    rows = predictor.inputs.dataset([predictor.processor.decode(corpus / "song1.wav")])
    assert rows.sequence_dim == PATCH_DIM and len(rows.sequences[0]) == 3
    assert song.popularity == pytest.approx(float(model.predict(rows)[0]), abs=1e-6)


def test_repeated_predictions_run_musicnn_once(fitted, monkeypatch) -> None:
    """MC dropout predicts the same rows many times: musicnn (no dropout) runs once for them."""
    model, ds = fitted
    some = ds.take([1, 2])
    first = model.predict(some)
    calls = []
    hold = MusicnnSeries.hold

    def counted(self, *args, **kwargs):
        calls.append(1)
        return hold(self, *args, **kwargs)

    monkeypatch.setattr(MusicnnSeries, "hold", counted)
    np.testing.assert_array_equal(model.predict(some), first)
    assert calls == []  # served from the cache
    other = model.predict(ds.take([3]))
    assert calls == [1] and other.shape == (1,)  # other rows: musicnn runs
