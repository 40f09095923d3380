"""Score songs with a trained bundle: popularity 0-100, its band, an uncertainty, and when.

``Predictor.load(bundle).predict("song.mp3")`` computes from the audio what the bundle's model
reads -- the 207 low-level features and, for models with a sequence part, the embedder's
frames -- and returns a :class:`SongPrediction`.

How a song is analysed
----------------------
The headline number is made from **exactly the input the model was trained on**: the bundle
records how its training features were made (``feature_spec.audio_input``), and the same
:class:`~autoenchorder.audio.processor.AudioProcessor` that ``extract`` used computes them
for the new song:

- a model trained on whole files (``extract``'s default; also every bundle that records no
  input) reads the whole file, so a training song gets its in-sample prediction back;
- a model trained on a window (``extract --window 30 --offset 30``) reads that window;
- a model trained on 30 s previews at an unknown position (SpotGenTrack's published features)
  reads ``max_windows`` (default 3) 30 s windows spread evenly over the song, and the headline
  is their mean.

Windows spread over a long song are also scored one by one, as a timeline view (``windows``,
``window_sd``): for a whole-file model they are extra information, not the headline.

Modules: :mod:`.inputs` (audio -> model inputs), :mod:`.uncertainty` (ensemble spread, MC
dropout), :mod:`.contributions` (occlusion over time), :mod:`.result` (what is returned),
:mod:`.predictor` (the :class:`Predictor` that puts them together).
"""

from autoenchorder.audio.processor import analysis_windows
from autoenchorder.predict.contributions import occlusion_contributions
from autoenchorder.predict.inputs import AUDIO_PARTS, EMBEDDER_BY_DIM, ModelInputs
from autoenchorder.predict.predictor import WINDOW_SECONDS, Predictor, bundle_paths, expand_paths
from autoenchorder.predict.result import PredictionFailure, SongPrediction
from autoenchorder.predict.uncertainty import mc_dropout

__all__ = [
    "AUDIO_PARTS",
    "EMBEDDER_BY_DIM",
    "WINDOW_SECONDS",
    "ModelInputs",
    "PredictionFailure",
    "Predictor",
    "SongPrediction",
    "analysis_windows",
    "bundle_paths",
    "expand_paths",
    "mc_dropout",
    "occlusion_contributions",
]
