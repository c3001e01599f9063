"""Load: the server's step log (``app/steplog.py``), the load benchmark's reading of it, and the work a new
session adds (to every other session, or again what the process already did)."""

from __future__ import annotations

import io
import json

import panel as pn
import pytest

from bench.bench_load import percentiles, server_figures
from thalia_viewer.app import steplog
from thalia_viewer.app.explorer import create_app
from thalia_viewer.app.shortcuts import KeyboardShortcuts


def test_without_the_log_a_key_is_just_handled(monkeypatch):
    monkeypatch.setattr(steplog, "_file", None)
    keys = []
    steplog.timed_key(keys.append, 1.0, "j")
    assert keys == ["j"]
    assert not steplog.enabled()


def test_with_the_log_a_key_records_when_it_was_sent_handled_and_its_cpu(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(steplog, "_file", out)
    keys = []
    shortcuts = KeyboardShortcuts(on_key=keys.append, keys=["j"])
    shortcuts._handle_msg({"key": "j", "t": 1_700_000_000_000.0})  # the browser's clock, ms since the epoch
    shortcuts._handle_msg({"key": "x"})  # not a listed key: neither handled nor logged
    assert keys == ["j"]
    (record,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert record["k"] == "key" and record["key"] == "j"
    assert record["client"] == pytest.approx(1_700_000_000.0)
    assert record["start"] <= record["end"] and record["cpu"] >= 0


def test_install_does_nothing_without_the_variables(monkeypatch):
    monkeypatch.setattr(steplog, "_installed", False)
    monkeypatch.setattr(steplog, "_file", None)
    assert steplog.install({}) is False


def test_the_benchmark_splits_the_log_into_steps_per_session():
    records = [
        {"k": "key", "s": "a", "key": "j", "client": 10.0, "start": 10.1, "end": 10.2, "cpu": 0.05},
        {"k": "out", "s": "a", "t": 10.2, "n": 1000},
        {"k": "out", "s": "a", "t": 10.5, "n": 3000},  # a deferred update of the same step
        {"k": "key", "s": "a", "key": "j", "client": 11.0, "start": 11.0, "end": 11.1, "cpu": 0.04},
        {"k": "out", "s": "a", "t": 11.1, "n": 500},
        {"k": "out", "s": "b", "t": 10.3, "n": 99_999},  # another session's frame is not this step's
    ]
    figures = server_figures(records)
    assert figures["queue"]["n"] == 2 and figures["queue"]["max"] == pytest.approx(0.1)
    assert figures["handler"]["p50"] == pytest.approx(0.1)
    assert figures["server_done"]["max"] == pytest.approx(0.5)  # the last frame of step 1, 10.5 - 10.0
    assert figures["kb_sent"]["max"] == pytest.approx(4.0)
    assert figures["frames_sent"]["max"] == 2


def test_percentiles_skip_missing_values():
    assert percentiles([None, 1.0, float("nan"), 3.0])["n"] == 2
    assert percentiles([])["n"] == 0


def test_a_page_registers_no_process_wide_busy_indicator(tiny_root):
    """Panel's busy indicator follows every session of the process: each would re-render on every event of every
    other session (and stay registered for good). The app's page has none."""
    before = len(pn.state._indicators)
    for _ in range(2):
        template = create_app(str(tiny_root), "explore").template()
        assert template.busy_indicator is None
    assert len(pn.state._indicators) == before


def test_model_cards_are_parsed_once_per_text_and_each_reader_gets_its_own_copy(tmp_path):
    from thalia_viewer.ml import zoo

    text = "name: a-model\nnested: {channels: [1, 2]}\n"
    first, second = zoo._parsed_yaml(text), zoo._parsed_yaml(text)
    assert first == second == {"name": "a-model", "nested": {"channels": [1, 2]}}
    first["nested"]["channels"].append(3)  # a caller changing its copy changes nobody else's
    assert zoo._parsed_yaml(text)["nested"]["channels"] == [1, 2]
    assert zoo._yaml_of.cache_info().hits >= 2
    with pytest.raises(Exception, match="mapping values"):  # bad YAML still raises, every time
        zoo._parsed_yaml("a: b: c")
