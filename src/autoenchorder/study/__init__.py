"""The whole study end to end, offline: what ``autoenchorder demo`` (and ``make demo``) runs.

1. **Procedural audio** -- generate a corpus whose popularity is known by construction, extract
   the 207 low-level features and the musicnn sequences, and train and test the baselines, the
   HitMusicNet replica on time-averaged audio features, Autoen-chorder and the alternates on one
   artist-grouped holdout split; plus a learning curve over training-set size.
2. **MusicOSet** -- real Spotify popularity with descriptors and metadata: the descriptor models
   (HitMusicNet with and without metadata, gradient boosting, baselines) on an artist-grouped
   holdout: how much do artist and metadata carry?
3. The report (``OUT/report.html``) and the headline tables on the terminal.
4. The user path: a trained Autoen-chorder bundle scores a few held-out songs with ``predict``.

Every step writes files the next one reads, so a re-run resumes where an interrupted one
stopped: generation and extraction skip what is done, and every fitted model is kept in
``OUT/jobs/`` (keyed by its complete configuration and data) and not fitted again.

``demo --study NAME`` runs only the studies named; besides the two above there are extra
studies (:mod:`~autoenchorder.study.extras`): ``full-length`` (whole songs against 30 s
previews), ``finetune`` (musicnn fine-tuned in series), ``ranking`` (Autoen-chorder's
objectives) and ``multi-target`` (several popularity targets).

The package has one module per job: :mod:`~autoenchorder.study.settings` (the sizes and the
models of each study), :mod:`~autoenchorder.study.plan` (every fit of the demo as a job, the
studies' run directories set up), :mod:`~autoenchorder.study.recorder` (results into a run
directory as they arrive), :mod:`~autoenchorder.study.extras` (the extra studies' registry and
context) and :mod:`~autoenchorder.study.run` (the steps in order); each extra study is a module
of its own.
"""

from autoenchorder.study.plan import DemoPlan, plan_demo
from autoenchorder.study.recorder import StudyRecorder
from autoenchorder.study.run import run_demo, run_plan
from autoenchorder.study.settings import DemoSettings, ModelRun

__all__ = [
    "DemoPlan",
    "DemoSettings",
    "ModelRun",
    "StudyRecorder",
    "plan_demo",
    "run_demo",
    "run_plan",
]
