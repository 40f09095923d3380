"""Study "ranking": Autoen-chorder trained for order (pairs of songs) or for the values.

On the demo's procedural corpus (the procedural study's songs, split and seed), the same
Autoen-chorder is fitted with each regression objective of
:class:`~autoenchorder.models.losses.Objective`:

- ``mse``: plain squared error on popularity / 100;
- ``weighted``: the study's outlier-weighted squared error (the model's default);
- ``ranking``: a pairwise logistic loss on pairs of songs alone (early stopping on validation
  Spearman; the scores are mapped to popularity on the training rows afterwards);
- ``mixed``: MSE plus ``ranking_weight`` times the ranking loss.

The report's table gives Spearman's rho with its interval for each, the differences to MSE (the
reference) with paired intervals and the song-by-song win rates against MSE; the headline is
ranking vs MSE on Spearman's rho.
"""

from __future__ import annotations

from autoenchorder.data.sources.registry import DataSpec
from autoenchorder.evaluate.rundir import RunWriter
from autoenchorder.study.extras import StudyContext
from autoenchorder.study.plan import describe_data, model_seeds_sentence, seed_averaged_jobs
from autoenchorder.study.recorder import SeedAveragingRecorder
from autoenchorder.study.settings import ModelRun
from autoenchorder.train.jobs import StudyData, loaded

NAME = "ranking"
ORDER = 4
#: objective -> its label in the report, MSE (the reference) first
OBJECTIVES: dict[str, str] = {
    "mse": "Autoen-chorder, MSE",
    "weighted": "Autoen-chorder, the study's weighted MSE (default)",
    "ranking": "Autoen-chorder, pairwise ranking loss",
    "mixed": "Autoen-chorder, MSE + 0.1 x ranking loss",
}


def ranking_runs() -> list[ModelRun]:
    """One Autoen-chorder per objective, in report order (keys are the objectives)."""
    return [
        ModelRun(objective, "autoenchorder", {"objective": objective}, label=label, cost=4.0)
        for objective, label in OBJECTIVES.items()
    ]


def plan_study(context: StudyContext) -> None:
    """Add the ranking study to the demo's plan (on the demo's procedural corpus).

    Parameters
    ----------
    context : StudyContext
    """
    settings, plan = context.settings, context.plan
    corpus, store = context.procedural()
    spec = DataSpec("procedural", root=str(corpus), store=str(store), embedder=settings.embedder)
    data = StudyData(spec, seed=settings.seed)
    plan.data[NAME] = data
    runs = ranking_runs()
    writer = RunWriter(
        settings.out,
        study=NAME,
        order=ORDER,
        title="Autoen-chorder: a ranking objective",
        description=(
            "The same Autoen-chorder on the procedural corpus (same songs, split and seed) "
            "trained with MSE, the study's outlier-weighted MSE, a pairwise logistic ranking "
            "loss alone (scores mapped to popularity on the training songs afterwards) or MSE "
            "plus 0.1 x the ranking loss. A ranking loss is judged by Spearman's rho and by "
            "the share of songs it places closer than MSE does. "
            f"{model_seeds_sentence(settings.model_seeds)}"
        ),
    )
    ds, split = loaded(data)
    describe_data(writer, data, ds, split)
    writer.set_headline("ranking", "mse", metric="spearman")  # a ranking loss is about order
    recorder = SeedAveragingRecorder(writer, runs, context.console, members=settings.model_seeds)
    plan.recorders[NAME] = recorder
    plan.jobs += seed_averaged_jobs(
        NAME, recorder, seed=settings.seed, epochs_scale=settings.epochs_scale
    )
