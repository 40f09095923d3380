"""The report page's parts, one job each: styles, number formatting, tables, summary, page."""

import numpy as np
import pytest

from autoenchorder.evaluate import formatting, html, styles, tables
from autoenchorder.published import STUDY_TEST_SONGS, STUDY_WIN_PERCENT, STUDY_WINS


@pytest.mark.parametrize(
    ("metric", "low", "high", "kind"),
    [
        ("r2", 0.01, 0.05, "good"),  # higher is better, interval above 0
        ("r2", -0.05, -0.01, "bad"),
        ("mae", -2.0, -0.5, "good"),  # lower is better, interval below 0
        ("mae", 0.5, 2.0, "bad"),
        ("mae", -0.5, 0.5, "flat"),
        ("mae", np.nan, 0.5, "flat"),
    ],
)
def test_verdict_reads_the_interval_the_metric_s_way(metric, low, high, kind):
    assert formatting.verdict(metric, low, high)[0] == kind


def test_numbers_are_written_per_metric():
    assert formatting.fmt("mae", 12.345) == "12.35" and formatting.fmt("r2", 0.71234) == "0.712"
    assert formatting.fmt("mae_01", 0.12345) == "0.1235" and formatting.fmt("r2", np.nan) == "—"
    assert (
        formatting.fmt_signed("r2", 0.1) == "+0.100" and formatting.fmt_signed("r2", -0.1)[0] == "-"
    )
    assert (
        formatting.ci_span("r2", -0.1, 0.2, signed=True)
        == "<span class='ci'>[-0.100, +0.200]</span>"
    )
    assert formatting.percent(0.5) == "50.0 %" and formatting.percent(np.nan) == "—"
    assert (
        f"{STUDY_WIN_PERCENT:.1f} % ({STUDY_WINS} of {STUDY_TEST_SONGS:,})"
    ) == formatting.STUDY_WIN_IN_FULL


def test_the_page_inlines_the_one_stylesheet():
    assert "--accent" in styles.CSS and "<" not in styles.CSS  # CSS only, no markup
    assert "CSS" not in vars(tables) and html.CSS is styles.CSS


def test_html_table_has_a_header_and_the_rows():
    out = tables.html_table(["a", "b"], ["<tr><td>1</td><td>2</td></tr>"])
    assert out.count("<th>") == 2 and "<td>1</td>" in out and out.startswith("<div class='scroll'>")
