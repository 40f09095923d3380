"""Make musicnn reference outputs with the ORIGINAL implementation, in a throwaway venv.

Run from the repo root with the project's interpreter:

    .venv/bin/python scripts/make_musicnn_reference.py [--venv /tmp/musicnn-ref]

It creates a virtual environment (default /tmp/musicnn-ref) with the original musicnn==0.1.0
(installed --no-deps: its metadata pins numpy<1.17, which has no Python 3.11 build) and the
newest stack that still runs its tf.compat.v1 code on Python 3.11 with NumPy 1 promotion rules:
tensorflow-cpu 2.15.1, numpy 1.26.4, librosa 0.10.2.post1, resampy 0.4.3, soundfile 0.12.1.
It then runs musicnn's own ``extractor`` (and ``batch_data`` for the front-end) on the real
clips in examples/audio and writes, under tests/data/musicnn_reference/:

- ``<clip>.npz``: ``frontend`` (log-mel, first FRONTEND_FRAMES frames), and for MSD_musicnn and
  MTT_musicnn the ``taggram``, ``penultimate``, ``max_pool`` and ``mean_pool`` of every patch,
  with librosa's default resampler (soxr_hq), plus ``kaiser_best`` variants of the MSD outputs
  and front-end (librosa.load patched to res_type="kaiser_best", the resampler of musicnn's
  era);
- ``checkpoint_manifest.json``: every variable TensorFlow lists in both checkpoints, with dtype,
  shape and the SHA-256 of its bytes as TensorFlow loads them;
- ``tf_written.*``: a small checkpoint written by TensorFlow's own Saver (and its values as
  JSON), for the reader test;
- ``README.md``: versions and how it was made.

It also checks that TensorFlow reads a checkpoint written by our ``write_checkpoint``.
musicnn's extractor concatenates the *first* batch's penultimate/cnn features for every later
batch (it re-uses the variable from the first ``sess.run``); with ``configuration.BATCH_SIZE``
raised to cover all patches in one batch that bug cannot touch the stored features.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
AUDIO = REPO / "examples" / "audio"
OUT = REPO / "tests" / "data" / "musicnn_reference"
FRONTEND_FRAMES = 256
PINS = [
    "tensorflow-cpu==2.15.1",
    "numpy==1.26.4",
    "librosa==0.10.2.post1",
    "resampy==0.4.3",
    "soundfile==0.12.1",
]
MUSICNN = "musicnn==0.1.0"

CHILD = textwrap.dedent(
    r"""
    import functools, hashlib, json, sys
    from pathlib import Path
    import numpy as np
    import librosa
    import tensorflow as tf
    from musicnn import configuration, extractor as ex

    audio_dir, out_dir, frontend_frames, our_ckpt = sys.argv[1:5]
    out_dir = Path(out_dir); frontend_frames = int(frontend_frames)
    configuration.BATCH_SIZE = 10000  # one batch per file: avoids the extractor's concat bug
    original_load = librosa.load

    def run(path, model):
        taggram, labels, feats = ex.extractor(str(path), model=model, extract_features=True)
        return {"taggram": taggram, "penultimate": feats["penultimate"],
                "max_pool": feats["max_pool"], "mean_pool": feats["mean_pool"]}, labels

    labels_out = {}
    for path in sorted(Path(audio_dir).iterdir()):
        if path.suffix.lower() not in {".wav", ".flac", ".ogg", ".mp3"}:
            continue
        arrays = {}
        librosa.load = original_load
        _, rep = ex.batch_data(str(path), 187, 187)
        arrays["frontend"] = rep[:frontend_frames]
        arrays["n_frames"] = np.array(rep.shape[0])
        for model in ("MSD_musicnn", "MTT_musicnn"):
            outs, labels = run(path, model)
            labels_out[model] = labels
            for k, v in outs.items():
                arrays[f"{model}/{k}"] = v
        librosa.load = functools.partial(original_load, res_type="kaiser_best")
        _, rep = ex.batch_data(str(path), 187, 187)
        arrays["kaiser_best/frontend"] = rep[:frontend_frames]
        outs, _ = run(path, "MSD_musicnn")
        for k, v in outs.items():
            arrays[f"kaiser_best/MSD_musicnn/{k}"] = v
        np.savez_compressed(out_dir / f"{path.stem}.npz",
                            **{k: np.asarray(v, dtype=np.float32) if k != "n_frames" else v
                               for k, v in arrays.items()})
        print("reference written for", path.name, {k: v.shape for k, v in arrays.items()})
    librosa.load = original_load
    (out_dir / "labels.json").write_text(json.dumps(labels_out, indent=1))

    # Every tensor of both checkpoints as TensorFlow itself lists and loads them.
    import musicnn
    root = Path(musicnn.__file__).parent
    manifest = {}
    for model in ("MSD_musicnn", "MTT_musicnn"):
        prefix = str(root / model) + "/"
        entries = {}
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)  # a prefix, not a folder
        for name, shape in sorted(reader.get_variable_to_shape_map().items()):
            value = np.asarray(reader.get_tensor(name))
            entries[name] = {"dtype": value.dtype.str, "shape": list(shape),
                             "sha256": hashlib.sha256(value.tobytes()).hexdigest()}
        manifest[model] = entries
    (out_dir / "checkpoint_manifest.json").write_text(json.dumps(manifest, indent=1))

    # A small checkpoint written by TensorFlow's own (v1) Saver.
    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    rng = np.random.default_rng(7)
    values = {
        "dense/kernel": rng.standard_normal((5, 3)).astype(np.float32),
        "dense/bias": rng.standard_normal(3).astype(np.float32),
        "conv/kernel": rng.standard_normal((3, 2, 1, 4)).astype(np.float32),
        "step": np.array(42, dtype=np.int64),
        "half": rng.standard_normal(4).astype(np.float16),
        "counts": rng.integers(-9, 9, size=(2, 2)).astype(np.int32),
        "double": rng.standard_normal(3),
    }
    vars_ = [tf.compat.v1.Variable(v, name=k) for k, v in values.items()]
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.train.Saver(vars_).save(sess, str(out_dir / "tf_written"),
                                             write_meta_graph=False, write_state=False)
    (out_dir / "tf_written.json").write_text(json.dumps(
        {k: {"dtype": v.dtype.str, "shape": list(v.shape), "values": v.ravel().tolist()}
         for k, v in values.items()}, indent=1))

    # Our writer's output must be readable by TensorFlow.
    expected = np.load(our_ckpt + ".npz")
    for name in expected.files:
        got = tf.train.load_variable(our_ckpt, name)
        assert got.dtype == expected[name].dtype and np.array_equal(got, expected[name]), name
    print("TensorFlow read our write_checkpoint output: OK", sorted(expected.files))
    print("VERSIONS", json.dumps({"tensorflow": tf.__version__, "numpy": np.__version__,
                                  "librosa": librosa.__version__}))
    """
)


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(python), "-c", "import musicnn, tensorflow"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "--no-deps", MUSICNN], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path("/tmp/musicnn-ref"))
    args = parser.parse_args()
    python = ensure_venv(args.venv)
    OUT.mkdir(parents=True, exist_ok=True)

    from autoenchorder.audio.embed.tf_checkpoint import write_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        ours = str(Path(tmp) / "ours")
        rng = np.random.default_rng(3)
        tensors = {
            "a/kernel": rng.standard_normal((4, 3)).astype(np.float32),
            "a/bias": rng.standard_normal(3).astype(np.float32),
            "b/step": np.array(7, dtype=np.int64),
            "b/half": rng.standard_normal(5).astype(np.float16),
            **{f"c/layer_{i}/w": rng.standard_normal(i + 1).astype(np.float32) for i in range(20)},
        }
        write_checkpoint(ours, tensors)
        np.savez(ours + ".npz", **tensors)
        child = Path(tmp) / "child.py"
        child.write_text(CHILD)
        proc = subprocess.run(
            [str(python), str(child), str(AUDIO), str(OUT), str(FRONTEND_FRAMES), ours],
            capture_output=True,
            text=True,
        )
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(proc.returncode)
    versions = json.loads(proc.stdout.split("VERSIONS", 1)[1].strip().splitlines()[0])
    write_readme(versions)


def write_readme(versions: dict[str, str]) -> None:
    pins = "\n".join(f"- {p}" for p in [*PINS, f"{MUSICNN} (--no-deps)"])
    text = f"""# musicnn reference outputs

Made by `scripts/make_musicnn_reference.py` with the ORIGINAL musicnn code (its own
`extractor.extractor` and `extractor.batch_data`, TensorFlow graph and checkpoints), in a
throwaway venv with Python {sys.version.split()[0]} and:

{pins}

Reported at run time: tensorflow {versions["tensorflow"]}, numpy {versions["numpy"]},
librosa {versions["librosa"]}.

- `<clip>.npz` per clip of `examples/audio`: `frontend` = the log-mel patches' source
  (`batch_data`'s `audio_rep`, first {FRONTEND_FRAMES} frames, float32), `n_frames` its full
  length; `MSD_musicnn/*` and `MTT_musicnn/*`: `taggram` (sigmoid tag probabilities),
  `penultimate` (200-d), `max_pool` and `mean_pool` (753-d) per 3 s patch, no overlap.
  Resampling to 16 kHz: librosa 0.10's default, **soxr_hq**. The `kaiser_best/` keys repeat the
  front-end and MSD outputs with `librosa.load(..., res_type="kaiser_best")` (resampy), the
  default of the librosa of musicnn's era.
- Decoding: soundfile 0.12.1 (libsndfile 1.2.0) in the reference venv; the project decodes with
  its own soundfile (float32, never int16). The front-ends agree to the last bit on these clips.
- NumPy 1.26 promotion: `10000 * float16 array` is computed in float32 (value-based casting),
  which our code reproduces; under NumPy 2 it would stay float16 and overflow.
- `configuration.BATCH_SIZE` was set to 10000 so that each file is one batch: the original
  extractor otherwise repeats the first batch's `penultimate` for every later batch.
- `checkpoint_manifest.json`: TensorFlow's `NewCheckpointReader` (`get_variable_to_shape_map`,
  `get_tensor`) on both checkpoints
  (dtype, shape, SHA-256 of the bytes).
- `tf_written.*`: a checkpoint written by TensorFlow's v1 `Saver`; `tf_written.json` its values.
- TensorFlow read a checkpoint written by our `write_checkpoint` back exactly (checked by the
  script at generation time).
"""
    (OUT / "README.md").write_text(text)


if __name__ == "__main__":
    main()
