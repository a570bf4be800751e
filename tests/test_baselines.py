"""Baseline files: validation, every tolerance kind, comparison and update (no notebooks run)."""

import json

import pytest

from gancourse.course.baselines import (
    AUTO_ABS,
    AUTO_REL,
    BaselineError,
    BaselineUpdate,
    auto_entry,
    check_metric,
    compare_metrics,
    describe_tolerance,
    is_non_finite,
    load_baseline,
    save_baseline,
    update_baseline,
    validate_baseline,
)


# ----------------------------------------------------------------------------- check_metric
@pytest.mark.parametrize("x, ok", [(12.3, True), (12.3 + 0.36, True), (12.3 - 0.36, True),
                                   (12.3 + 0.38, False), (11.0, False)])
def test_relative_tolerance(x, ok):
    # tolerance = rel * |value| = 0.03 * 12.3 = 0.369
    passed, reason = check_metric(x, {"value": 12.3, "rel": 0.03})
    assert passed is ok
    assert ("tolerance 0.369" in reason) is (not ok)


@pytest.mark.parametrize("x, ok", [(1.0, True), (1.1, True), (0.9, True), (1.11, False)])
def test_absolute_tolerance(x, ok):
    assert check_metric(x, {"value": 1.0, "abs": 0.1})[0] is ok


def test_abs_and_rel_add_up():
    # tol = 0.5 + 0.1 * |-10| = 1.5
    spec = {"value": -10, "abs": 0.5, "rel": 0.1}
    assert check_metric(-11.5, spec)[0]
    assert check_metric(-8.5, spec)[0]
    assert not check_metric(-11.6, spec)[0]


def test_missing_tolerance_means_exact():
    assert check_metric(42, {"value": 42})[0]
    assert check_metric(42.0, {"value": 42, "abs": 0})[0]
    ok, reason = check_metric(43, {"value": 42})
    assert not ok and "|43 - 42| = 1 > tolerance 0" in reason


def test_min_max_inclusive_and_combined():
    assert check_metric(0.7, {"min": 0.7})[0]
    ok, reason = check_metric(0.69, {"min": 0.7})
    assert not ok and "0.69 < min 0.7" in reason
    assert check_metric(2, {"max": 2})[0]
    ok, reason = check_metric(2.5, {"max": 2})
    assert not ok and "max 2" in reason
    box = {"min": 0, "max": 1}
    assert [check_metric(x, box)[0] for x in (-0.1, 0, 0.5, 1, 1.1)] == [
        False, True, True, True, False]


def test_value_and_bound_must_both_hold():
    spec = {"value": 10.0, "rel": 0.5, "max": 12}  # value allows [5, 15], max cuts at 12
    assert check_metric(11, spec)[0]
    ok, reason = check_metric(13, spec)
    assert not ok and "13 > max 12" in reason and "tolerance" not in reason
    ok, reason = check_metric(4, spec)
    assert not ok and "tolerance" in reason


def test_bool_and_str_are_exact():
    assert check_metric(True, {"value": True})[0]
    assert not check_metric(False, {"value": True})[0]
    ok, reason = check_metric(1, {"value": True})  # an int is not a bool
    assert not ok and "expected exactly True, got 1" in reason
    assert check_metric("ring8", {"value": "ring8"})[0]
    assert not check_metric("grid25", {"value": "ring8"})[0]


def test_bool_is_not_a_number():
    ok, reason = check_metric(True, {"value": 1.0, "abs": 1})
    assert not ok and "expected a number, got bool" in reason


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", float("nan"), float("inf")])
def test_non_finite_fails_numeric_checks(bad):
    for spec in ({"value": 1.0, "rel": 10.0}, {"min": 0}, {"max": 1e9}):
        ok, reason = check_metric(bad, spec)
        assert not ok
        assert "non-finite" in reason


def test_is_non_finite():
    assert is_non_finite("nan") and is_non_finite("-inf") and is_non_finite(float("inf"))
    assert not is_non_finite("ring8") and not is_non_finite(1.0) and not is_non_finite(True)


def test_other_string_fails_numeric_check():
    ok, reason = check_metric("fast", {"value": 1.0})
    assert not ok and "expected a number, got str 'fast'" in reason


def test_describe_tolerance():
    assert describe_tolerance({"value": 12.3, "rel": 0.03}) == "+/-0.369 (rel 0.03)"
    assert describe_tolerance({"value": 1.0, "abs": 0.1, "rel": 0.1}) == "+/-0.2 (abs 0.1, rel 0.1)"
    assert describe_tolerance({"value": 3}) == "exact"
    assert describe_tolerance({"value": True}) == "exact"
    assert describe_tolerance({"min": 0.7}) == ">= 0.7"
    assert describe_tolerance({"max": 2}) == "<= 2"
    assert describe_tolerance({"min": 0, "max": 1}) == "in [0, 1]"
    assert describe_tolerance({"value": 5, "abs": 1, "min": 0}) == "+/-1 (abs 1), >= 0"


# ----------------------------------------------------------------------------- compare_metrics
def test_compare_metrics_verdicts():
    entries = {"a.fd": {"value": 10.0, "rel": 0.1}, "a.ok": {"value": True},
               "a.gone": {"min": 0}, "a.bad": {"max": 1}}
    checks = compare_metrics({"a.fd": 10.5, "a.ok": True, "a.bad": 3, "a.new": 7}, entries)
    by = {c.metric: c for c in checks}
    assert [c.metric for c in checks] == ["a.bad", "a.fd", "a.gone", "a.ok", "a.new"]
    assert by["a.fd"].verdict == "pass" and not by["a.fd"].failed
    assert by["a.ok"].verdict == "pass"
    assert by["a.bad"].verdict == "fail" and by["a.bad"].failed
    assert by["a.gone"].verdict == "missing" and by["a.gone"].failed
    assert by["a.gone"].value is None and "did not record" in by["a.gone"].reason
    assert by["a.new"].verdict == "unchecked" and not by["a.new"].failed
    assert by["a.new"].baseline is None
    assert by["a.fd"].tolerance == "+/-1 (rel 0.1)"
    assert by["a.fd"].to_dict()["baseline"] == {"value": 10.0, "rel": 0.1}


# ----------------------------------------------------------------------------- validation
GOOD = {
    "_budget_s": {"13_evaluating_gans": 90},
    "00_orientation": {
        "orientation.answer": {"value": 42, "abs": 0},
        "dcgan.fd": {"value": 12.3, "rel": 0.3, "note": "why this tolerance"},
        "dcgan.confident_share": {"min": 0.7},
        "wgan.lipschitz_ok": {"value": True},
        "name": {"value": "ring8"},
        "auto": {"value": 1.0, "rel": 0.25, "abs": 1e-6, "auto": True},
    },
}


def test_valid_file_loads(tmp_path):
    path = tmp_path / "smoke.json"
    path.write_text(json.dumps(GOOD))
    assert load_baseline(path) == GOOD


@pytest.mark.parametrize("entry, message", [
    ({"value": 1.0, "tol": 0.1}, "unknown key(s) 'tol'"),
    ({"rel": 0.1}, "no 'value' and no 'min'/'max'"),
    ({"value": 1.0, "rel": -0.1}, "'rel' must be >= 0"),
    ({"value": 1.0, "abs": -1}, "'abs' must be >= 0"),
    ({"min": 2, "max": 1}, "'min' (2) is greater than 'max' (1)"),
    ({"value": True, "abs": 0.1}, "only apply to numeric values"),
    ({"value": "x", "max": 1}, "only apply to numeric values"),
    ({"value": [1, 2]}, "'value' must be a finite number, a bool or a string"),
    ({"value": 1.0, "rel": "0.1"}, "'rel' must be a finite number"),
    ({"value": 1.0, "note": 3}, "'note' must be a string"),
    ({"value": 1.0, "auto": "yes"}, "'auto' must be true or false"),
    (3.0, "an entry must be an object"),
])
def test_bad_entries_name_notebook_and_metric(entry, message):
    with pytest.raises(BaselineError) as err:
        validate_baseline({"04_dcgan": {"dcgan.fd": entry}}, "smoke.json")
    assert message in str(err.value)
    assert "smoke.json: notebook 04_dcgan: metric dcgan.fd" in str(err.value)


@pytest.mark.parametrize("data, message", [
    ([], "the top level must be an object"),
    ({"_budget": {}}, "unknown top-level key '_budget'"),
    ({"_budget_s": {"04_dcgan": 0}}, "positive number of seconds"),
    ({"_budget_s": {"04_dcgan": "60"}}, "positive number of seconds"),
    ({"_budget_s": [60]}, "must map notebook names to seconds"),
    ({"04_dcgan": [1]}, "04_dcgan: must map metric names to entries"),
])
def test_bad_structure(data, message):
    with pytest.raises(BaselineError, match="smoke.json") as err:
        validate_baseline(data, "smoke.json")
    assert message in str(err.value)


def test_bad_json_names_file(tmp_path):
    path = tmp_path / "cpu.json"
    path.write_text("{not json")
    with pytest.raises(BaselineError, match="cpu.json: not valid JSON"):
        load_baseline(path)


def test_save_validates_and_round_trips(tmp_path):
    path = tmp_path / "sub" / "smoke.json"
    save_baseline(path, GOOD)
    assert json.loads(path.read_text()) == GOOD
    with pytest.raises(BaselineError):
        save_baseline(path, {"x": {"m": {"rel": 1}}})
    assert json.loads(path.read_text()) == GOOD  # the bad write left the file alone


# ----------------------------------------------------------------------------- update
def test_auto_entry():
    assert auto_entry(2.5) == {"value": 2.5, "rel": AUTO_REL, "abs": AUTO_ABS, "auto": True}
    assert auto_entry(3) == {"value": 3, "rel": 0.25, "abs": 1e-6, "auto": True}
    assert auto_entry(True) == {"value": True}
    assert auto_entry("ring8") == {"value": "ring8"}


def test_update_keeps_hand_set_tolerances_adds_and_removes():
    old = {
        "_budget_s": {"04_dcgan": 90},
        "04_dcgan": {
            "dcgan.fd": {"value": 12.3, "rel": 0.3, "note": "hand-set"},
            "dcgan.share": {"min": 0.7},
            "dcgan.ok": {"value": True},
            "dcgan.same": {"value": 5, "abs": 1},
            "dcgan.gone": {"value": 1.0},
            "dcgan.kind": {"value": 1.0, "rel": 0.1},
        },
        "05_conditional_gan": {"cgan.acc": {"min": 0.9}},
    }
    runs = {"04_dcgan": {"dcgan.fd": 11.0, "dcgan.share": 0.5, "dcgan.ok": False,
                         "dcgan.same": 5, "dcgan.new": 2.0, "dcgan.flag": True,
                         "dcgan.kind": "ring8"}}
    new, change = update_baseline(old, runs)
    nb = new["04_dcgan"]
    assert nb["dcgan.fd"] == {"value": 11.0, "rel": 0.3, "note": "hand-set"}
    assert nb["dcgan.share"] == {"min": 0.7}  # bounds only: untouched
    assert nb["dcgan.ok"] == {"value": False}
    assert nb["dcgan.same"] == {"value": 5, "abs": 1}
    assert nb["dcgan.new"] == {"value": 2.0, "rel": 0.25, "abs": 1e-6, "auto": True}
    assert nb["dcgan.flag"] == {"value": True}
    assert nb["dcgan.kind"] == {"value": "ring8"}  # type changed: fresh entry
    assert "dcgan.gone" not in nb
    assert new["05_conditional_gan"] == old["05_conditional_gan"]  # not run: untouched
    assert new["_budget_s"] == {"04_dcgan": 90}
    assert old["04_dcgan"]["dcgan.fd"]["value"] == 12.3  # input not mutated
    assert change.removed == ["04_dcgan: dcgan.gone"]
    assert sorted(change.added) == ["04_dcgan: dcgan.flag", "04_dcgan: dcgan.new"]
    assert sorted(change.updated) == ["04_dcgan: dcgan.fd",
                                      "04_dcgan: dcgan.kind (type changed, tolerance reset)",
                                      "04_dcgan: dcgan.ok"]
    validate_baseline(new)


def test_update_never_stores_non_finite_values():
    old = {"06_f_gan": {"fgan.kl": {"value": 0.5, "abs": 0.1}}}
    new, change = update_baseline(old, {"06_f_gan": {"fgan.kl": "nan", "fgan.js": "inf"}})
    assert new["06_f_gan"] == {"fgan.kl": {"value": 0.5, "abs": 0.1}}
    assert len(change.skipped) == 2 and "'nan'" in " ".join(change.skipped)
    assert change.added == [] and change.removed == []


def test_update_drops_notebook_with_no_metrics_and_creates_new_file_content():
    new, change = update_baseline({"01_a": {"m": {"value": 1}}}, {"01_a": {}, "02_b": {"x": 1}})
    assert "01_a" not in new
    assert new["02_b"] == {"x": auto_entry(1)}
    assert change.removed == ["01_a: m"]


def test_update_lines():
    change = BaselineUpdate(added=["a: x"], removed=["a: y"], skipped=["b: failed"])
    lines = change.lines()
    assert lines[0] == "1 added, 0 updated, 1 removed"
    assert "  removed (no longer recorded): a: y" in lines
    assert "  skipped: b: failed" in lines
