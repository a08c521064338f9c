"""project/scripts/check_quality.py: measured vs floor, failing on a miss or a missing score."""
import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).parent.parent / "project"
SCRIPT = PROJECT / "scripts" / "check_quality.py"


def _run(tmp_path, qa_f1, floors=None):
    metrics = tmp_path / "metrics"
    metrics.mkdir(exist_ok=True)
    (metrics / "qa.json").write_text(json.dumps({"qa_f1": qa_f1, "baseline_no_answer": {"qa_f1": 0.5}}))
    spec = {"setting": "test", "checks": floors or {
        "qa_over_baseline": {"file": "qa.json", "score": "qa_f1", "minus": "baseline_no_answer.qa_f1", "floor": 0.02},
    }}
    (tmp_path / "floors.json").write_text(json.dumps(spec))
    return subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "floors.json"), str(metrics)],
                          capture_output=True, text=True)


def test_passes_at_or_above_the_floor_and_prints_both(tmp_path):
    run = _run(tmp_path, qa_f1=0.55)
    assert run.returncode == 0, run.stdout
    assert "qa_over_baseline" in run.stdout and "5.0" in run.stdout and "2.0" in run.stdout and "pass" in run.stdout


def test_fails_below_the_floor(tmp_path):
    run = _run(tmp_path, qa_f1=0.51)
    assert run.returncode == 1 and "FAIL" in run.stdout and "qa_over_baseline" in run.stdout.splitlines()[-1]


def test_fails_on_a_missing_file_or_score(tmp_path):
    floors = {"ner": {"file": "ner.json", "score": "seqeval_f", "floor": 0.5},
              "qa": {"file": "qa.json", "score": "qa_hasans_f1", "floor": 0.1}}
    run = _run(tmp_path, qa_f1=0.9, floors=floors)
    rows = {line.split()[0]: line for line in run.stdout.splitlines() if line.startswith(("ner ", "qa "))}
    assert run.returncode == 1 and "missing" in rows["ner"] and "missing" in rows["qa"]


def test_shipped_floors_name_real_metrics_files():
    spec = json.loads((PROJECT / "quality_floors.json").read_text())
    project = (PROJECT / "project.yml").read_text()
    for check in spec["checks"].values():
        assert f"metrics/{check['file']}" in project  # written by a project command
        assert 0 <= check["floor"] <= check["measured"]
