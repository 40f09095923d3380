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
