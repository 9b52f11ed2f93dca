"""Each reliability module names its row of the table (`pytestmark = pytest.mark.promise(ROW)`);
under `make reliability` every test's outcome is written beside its numbers, so `run.py` can say
"holds" only for a row whose every test passed."""

from __future__ import annotations

import json

import pytest

from .harness import OUT


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "promise(row): the row of the `make reliability` table this test holds")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not OUT or (report.when != "call" and report.passed):
        return
    row = next((m.args[0] for m in getattr(report, "_promise", [])), None)
    with open(OUT, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"kind": "outcome", "row": row, "test": report.nodeid, "when": report.when,
                             "outcome": report.outcome}) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    outcome.get_result()._promise = list(item.iter_markers("promise"))
