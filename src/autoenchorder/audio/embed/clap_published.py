"""The published CLAP checkpoint's configuration, and a random snapshot of it for offline use.

``laion/clap-htsat-unfused`` cannot be downloaded here, so tests and benchmarks run the CLAP
embedder on a seeded, randomly initialised ``ClapModel`` of exactly the published audio
configuration (same shapes, same preprocessing, same cost; meaningless embeddings). Its text
tower -- RoBERTa-base in the checkpoint -- is shrunk: the embedder never loads it.

``transformers`` is imported inside :func:`write_random_snapshot` only (the optional extra
``autoenchorder[clap]``).
"""

from __future__ import annotations

import json
from pathlib import Path

from autoenchorder.audio.embed.clap_weights import CONFIG_FILE

#: laion/clap-htsat-unfused config.json as published (transformers 4.36 wrote it, listing only
#: the keys that differ from the defaults; all others are transformers' defaults).
PUBLISHED_CONFIG: dict = {
    "architectures": ["ClapModel"],
    "audio_config": {
        "fusion_num_hidden_layers": 2,
        "model_type": "clap_audio_model",
        "projection_hidden_size": 768,
    },
    "hidden_size": 768,
    "initializer_factor": 1.0,
    "logit_scale_init_value": 14.285714285714285,
    "model_type": "clap",
    "num_hidden_layers": 16,
    "projection_dim": 512,
    "projection_hidden_act": "relu",
    "text_config": {
        "classifier_dropout": None,
        "fusion_hidden_size": 768,
        "fusion_num_hidden_layers": 2,
        "initializer_range": 0.02,
        "model_type": "clap_text_model",
        "projection_hidden_size": 768,
    },
    "transformers_version": "4.36.0.dev0",
}
#: The text tower written instead of the checkpoint's RoBERTa-base (not read by the embedder).
SMALL_TEXT_CONFIG: dict = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "intermediate_size": 37,
}
#: laion/clap-htsat-unfused preprocessor_config.json, the arguments ClapFeatureExtractor takes.
PUBLISHED_PREPROCESSOR: dict = {
    "feature_size": 64,
    "sampling_rate": 48000,
    "hop_length": 480,
    "max_length_s": 10,
    "fft_window_size": 1024,
    "padding_value": 0.0,
    "return_attention_mask": False,
    "frequency_min": 50,
    "frequency_max": 14000,
    "top_db": None,
    "truncation": "rand_trunc",
    "padding": "repeatpad",
}


def random_snapshot_config() -> dict:
    """The published config.json with the small text tower (what the random snapshot holds)."""
    text = {**PUBLISHED_CONFIG["text_config"], **SMALL_TEXT_CONFIG}
    return {**PUBLISHED_CONFIG, "text_config": text}


def write_random_snapshot(folder: Path, seed: int = 0) -> Path:
    """Write a snapshot folder of a seeded random ``ClapModel`` of the published configuration.

    config.json is then replaced by the published one in its own terse form (with the small
    text tower), so that loading reads the checkpoint's real config file, not the rewrite of
    the installed transformers.

    Parameters
    ----------
    folder : Path
        Where to write config.json, preprocessor_config.json and model.safetensors.
    seed : int
        torch's seed for the random weights.

    Returns
    -------
    Path
        ``folder``.
    """
    import torch  # noqa: PLC0415
    import transformers  # noqa: PLC0415

    folder = Path(folder)
    config = random_snapshot_config()
    torch.manual_seed(seed)
    transformers.ClapModel(transformers.ClapConfig.from_dict(config)).save_pretrained(folder)
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    transformers.ClapFeatureExtractor(**PUBLISHED_PREPROCESSOR).save_pretrained(folder)
    return folder
