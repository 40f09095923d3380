"""The run directory's modules: format, writer and reader, one job each."""

import ast
from pathlib import Path

from autoenchorder.evaluate import run_format, run_reader, run_writer, rundir


def _imports(module) -> set[str]:
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    return {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }


def test_reading_needs_no_writer():
    # evaluate reads run dirs it never writes: the reader must not pull in the writer's code
    assert "autoenchorder.evaluate.run_writer" not in _imports(run_reader)
    assert "autoenchorder.atomic" not in _imports(run_reader)
    assert not any(name.startswith("autoenchorder") for name in _imports(run_format))


def test_rundir_names_the_modules_objects():
    assert rundir.RunWriter is run_writer.RunWriter and rundir.read_run is run_reader.read_run
    assert rundir.Study is run_reader.Study and rundir.FAMILIES is run_format.FAMILIES


def test_the_demo_records_the_model_class_family_not_a_guess_from_the_key(tmp_path):
    from autoenchorder.study.recorder import StudyRecorder
    from autoenchorder.study.settings import ModelRun

    writer = run_writer.RunWriter(tmp_path)
    runs = [  # keys that read like another family than their model's class
        ModelRun("hitmusicnet-lookalike", "mean"),
        ModelRun("baseline-lookalike", "hitmusicnet"),
        ModelRun("rnn-lookalike", "autoenchorder"),
    ]
    StudyRecorder(writer, runs)
    families = {key: entry["family"] for key, entry in writer.meta["models"].items()}
    assert families == {
        "hitmusicnet-lookalike": "baseline",
        "baseline-lookalike": "hitmusicnet",
        "rnn-lookalike": "autoenchorder",
    }


def test_train_run_dir_records_the_model_class_family(tmp_path):
    from types import SimpleNamespace

    import numpy as np

    from autoenchorder.commands.train import record_run

    class FittedModel:
        family = "alternate"
        config = {"seed": 0}
        history_ = []

    result = SimpleNamespace(
        model=FittedModel(),
        metrics={
            "split": "holdout",
            "seed": 0,
            "n_train": 8,
            "n_val": 0,
            "n_test": 2,
            "fit_seconds": 0.1,
        },
        split=SimpleNamespace(test_ids=np.array(["a", "b"])),
        test_truth=np.array([10.0, 20.0]),
        test_predictions=np.array([12.0, 18.0]),
        test_proba=None,
        task="regression",
        class_names=None,
    )
    dataset = type("Dataset", (), {"name": "toy", "__len__": lambda self: 10})()
    record_run(tmp_path, "gbdt", dataset, result)  # a baseline's name, an alternate's class
    assert run_reader.read_study(tmp_path).family("gbdt") == "alternate"
