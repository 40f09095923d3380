"""Make VGGish reference outputs with the ORIGINAL implementations, in a throwaway venv.

Run from the repo root with the project's interpreter:

    .venv/bin/python scripts/make_vggish_reference.py [--venv /tmp/vggish-ref]

It creates a virtual environment (default /tmp/vggish-ref) holding the PyPI package
``torchvggish==0.2`` (harritaylor's port, which ships the official ``mel_features.py`` and
``vggish_params.py`` verbatim and the official ``vggish_input.waveform_to_examples`` with only a
``return_tensor`` switch added), with torch, numpy, resampy and soundfile at the project's pins.
It then, for every real clip in examples/audio and one synthetic 22.05 kHz chirp:

1. decodes the file with soundfile to float32 (the project's decoder; never int16), converts it
   to float64 (as the official ``wavfile_to_examples`` hands float64 to the front-end) and runs
   the official ``waveform_to_examples`` (channel mean, resampy ``kaiser_best`` to 16 kHz,
   log-mel examples);
2. builds torchvggish's own network (``VGG(make_layers())``), loads the deterministic random
   weights of :func:`random_vggish_weights` (the real weights are 288 MB and cannot be
   downloaded here; tests regenerate the same weights from the seed) and runs it on those
   examples twice: as published (final ReLU) and with the final ReLU module replaced by
   ``Identity`` (the TF original's linear output);
3. runs torchvggish's ``Postprocessor.postprocess`` (PCA, clip, *255/4, round) with the random
   PCA parameters on the ReLU outputs.

It writes ``tests/data/vggish_reference/<clip>.npz`` with ``examples_head`` (first
HEAD_EXAMPLES log-mel examples, float32), ``examples_tail`` (the last one), ``num_examples``,
``embedding_linear``, ``embedding_relu`` (float32, all examples) and ``postprocessed_round``
(float32 integers), plus a README.md with the versions. Nothing of the originals is copied into
the repository; only their outputs are stored.

A second venv (default /tmp/vggish-ref-tf, tensorflow-cpu 2.15.1 with numpy 1.26.4) writes a
small V1 checkpoint with TensorFlow's own ``tf.compat.v1.train.Saver(write_version=V1)`` -- the
format of the published ``vggish_model.ckpt`` -- holding a few VGGish-named variables of
several dtypes, ``tf_v1_small.ckpt``, and their values as TensorFlow reads them back,
``tf_v1_small.npz``, for the V1 reader test.
"""

from __future__ import annotations

import argparse
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
AUDIO = REPO / "examples" / "audio"
OUT = REPO / "tests" / "data" / "vggish_reference"
SEED = 20240611
HEAD_EXAMPLES = 3
PINS = [
    "torchvggish==0.2",
    "torch==2.13.0",
    "numpy==2.4.6",
    "resampy==0.4.3",
    "soundfile==0.14.0",
]
TF_PINS = ["tensorflow-cpu==2.15.1", "numpy==1.26.4"]
#: The synthetic signal: a float64 chirp with noise at a rate whose ratio to 16 kHz is not
#: an integer (resampy's fractional phases), 4.5 s long.
CHIRP_SR = 22050
CHIRP_SECONDS = 4.5


def random_vggish_weights(
    shapes: dict[str, tuple[int, ...]], seed: int = SEED
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Deterministic random VGGish weights and PCA parameters.

    NumPy's legacy ``RandomState`` is used because its streams are frozen across NumPy
    versions. Tensors are drawn in sorted key order: weights uniform in +-sqrt(6 / fan_in)
    (He-uniform, so activations neither vanish nor explode through the 9 layers), biases
    uniform in +-0.1; then the PCA matrix uniform in +-0.06 and means uniform in +-0.5.

    Parameters
    ----------
    shapes : dict of str to tuple of int
        torchvggish ``state_dict`` keys and shapes.
    seed : int

    Returns
    -------
    state : dict of str to np.ndarray (float32)
    pca : dict with ``pca_eigen_vectors`` (128, 128) and ``pca_means`` (128,), float64
    """
    rs = np.random.RandomState(seed)
    state = {}
    for key in sorted(shapes):
        shape = tuple(shapes[key])
        if key.endswith("weight"):
            bound = np.sqrt(6.0 / int(np.prod(shape[1:])))
            state[key] = rs.uniform(-bound, bound, shape).astype(np.float32)
        else:
            state[key] = rs.uniform(-0.1, 0.1, shape).astype(np.float32)
    pca = {
        "pca_eigen_vectors": rs.uniform(-0.06, 0.06, (128, 128)),
        "pca_means": rs.uniform(-0.5, 0.5, 128),
    }
    return state, pca


def chirp(sr: int = CHIRP_SR, seconds: float = CHIRP_SECONDS) -> np.ndarray:
    """The synthetic test signal, float64 shape (n,): a 100 Hz -> 7 kHz chirp plus noise."""
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * (100.0 * t + (7000.0 - 100.0) / (2 * seconds) * t**2)
    noise = np.random.RandomState(SEED + 1).standard_normal(t.shape[0])
    return 0.5 * np.sin(phase) + 0.05 * noise


CHILD = r"""
import sys
from pathlib import Path
import numpy as np
import soundfile as sf
import torch
from torchvggish import vggish_input
from torchvggish.torchvggish import VGG, Postprocessor, make_layers

audio_dir, out_dir, head = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(1)

model = VGG(make_layers(), postprocess=False).eval()
shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
state, pca = random_vggish_weights(shapes)
model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
linear = VGG(make_layers(), postprocess=False).eval()
linear.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
linear.embeddings[5] = torch.nn.Identity()  # the TF original: no ReLU after the last layer

pproc = object.__new__(Postprocessor)  # its __init__ downloads the real PCA file
pproc._pca_matrix = torch.as_tensor(pca["pca_eigen_vectors"]).float()
pproc._pca_means = torch.as_tensor(pca["pca_means"].reshape(-1, 1)).float()

signals = {}
for path in sorted(audio_dir.iterdir()):
    if path.suffix.lower() in {".wav", ".flac", ".ogg", ".mp3"}:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # (n, channels)
        signals[path.name] = (data.astype(np.float64), sr)
signals["chirp_22050.synthetic"] = (chirp(), CHIRP_SR)

for name, (data, sr) in signals.items():
    examples = vggish_input.waveform_to_examples(data, sr, return_tensor=False)
    x = torch.tensor(examples)[:, None, :, :].float()
    with torch.no_grad():
        relu_out = model(x)
        linear_out = linear(x)
        rounded = pproc.postprocess(relu_out)
    np.savez_compressed(
        out_dir / (name + ".npz"),
        examples_head=examples[:head].astype(np.float32),
        examples_tail=examples[-1:].astype(np.float32),
        num_examples=np.int64(examples.shape[0]),
        embedding_relu=relu_out.numpy().astype(np.float32),
        embedding_linear=linear_out.numpy().astype(np.float32),
        postprocessed_round=rounded.numpy().astype(np.float32),
    )
    print(name, examples.shape, float(linear_out.std()))
"""


TF_CHILD = r"""
import sys
import numpy as np
import tensorflow.compat.v1 as tf

out_prefix, npz_path = sys.argv[1], sys.argv[2]
tf.disable_eager_execution()
rs = np.random.RandomState(7)
values = {
    "vggish/conv1/weights": rs.standard_normal((3, 3, 1, 4)).astype(np.float32),
    "vggish/conv1/biases": rs.standard_normal(4).astype(np.float32),
    "vggish/fc2/weights": rs.standard_normal((300, 40)).astype(np.float32),
    "vggish/fc2/biases": np.full(40, 0.25, dtype=np.float32),
    "extra/double": rs.standard_normal((2, 3)),
    "extra/int32": np.arange(-5, 7, dtype=np.int32).reshape(3, 4),
    "global_step": np.int64(123456789012),
}
graph = tf.Graph()
with graph.as_default():
    variables = [tf.Variable(v, name=k) for k, v in values.items()]
    saver = tf.train.Saver(variables, write_version=tf.train.SaverDef.V1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        saver.save(sess, out_prefix, write_meta_graph=False, write_state=False)
reader = tf.train.load_checkpoint(out_prefix)
stored = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
np.savez(npz_path, **{k.replace("/", "__"): v for k, v in stored.items()})
print(sorted(stored))
"""


def _child_source() -> str:
    header = "import numpy as np\n"
    header += f"SEED = {SEED}\nCHIRP_SR = {CHIRP_SR}\nCHIRP_SECONDS = {CHIRP_SECONDS}\n"
    header += inspect.getsource(random_vggish_weights) + inspect.getsource(chirp)
    return header + textwrap.dedent(CHILD)


def _versions(python: Path) -> str:
    out = subprocess.run(
        [str(python), "-m", "pip", "freeze"], check=True, capture_output=True, text=True
    ).stdout
    return "\n".join(f"- {line}" for line in out.splitlines() if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path("/tmp/vggish-ref"))
    parser.add_argument("--tf-venv", type=Path, default=Path("/tmp/vggish-ref-tf"))
    parser.add_argument("--audio", type=Path, default=AUDIO)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    python = args.venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(args.venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PINS], check=True)
    args.out.mkdir(parents=True, exist_ok=True)
    child = args.venv / "make_vggish_reference_child.py"
    child.write_text(_child_source())
    subprocess.run(
        [str(python), str(child), str(args.audio), str(args.out), str(HEAD_EXAMPLES)], check=True
    )
    tf_python = args.tf_venv / "bin" / "python"
    if not tf_python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(args.tf_venv)], check=True)
        subprocess.run([str(tf_python), "-m", "pip", "install", "--quiet", *TF_PINS], check=True)
    tf_child = args.tf_venv / "make_vggish_v1_child.py"
    tf_child.write_text(TF_CHILD)
    subprocess.run(
        [
            str(tf_python),
            str(tf_child),
            str(args.out / "tf_v1_small.ckpt"),
            str(args.out / "tf_v1_small.npz"),
        ],
        check=True,
    )
    readme = f"""# VGGish reference outputs

Made by `scripts/make_vggish_reference.py` with the original implementations in a throwaway
venv: the official front-end (`mel_features.py`, `vggish_params.py` verbatim and
`waveform_to_examples` as shipped in the PyPI package torchvggish 0.2) and torchvggish's own
`VGG` network and `Postprocessor`, given deterministic random weights
(`random_vggish_weights(seed={SEED})` in the script; the tests regenerate them).

Inputs: the clips of `examples/audio`, decoded with soundfile to float32, converted to float64;
and a synthetic {CHIRP_SECONDS} s chirp at {CHIRP_SR} Hz (`chirp()` in the script).

Per input `<name>.npz`: `examples_head` (first {HEAD_EXAMPLES} log-mel examples), `examples_tail`
(last example), `num_examples`, `embedding_relu` (torchvggish output, final ReLU),
`embedding_linear` (final ReLU replaced by Identity: the TF original), `postprocessed_round`
(torchvggish Postprocessor on `embedding_relu`: PCA, clip, x255/4, round).

`tf_v1_small.ckpt`: a V1 checkpoint (the format of the published `vggish_model.ckpt`) written
by TensorFlow's own `tf.compat.v1.train.Saver(write_version=V1)`; `tf_v1_small.npz`: its tensors
as TensorFlow's `load_checkpoint` reads them back (names with `/` replaced by `__`).

Versions in the torch venv:
{_versions(python)}

Versions in the TensorFlow venv:
{_versions(tf_python)}
"""
    (args.out / "README.md").write_text(readme)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
