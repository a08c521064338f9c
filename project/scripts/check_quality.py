"""Check the main job's dev scores against the floors in quality_floors.json.

Prints measured vs floor for every check and exits 1 when a score is missing or
below its floor. A check reads one score from a metrics JSON file (dotted keys
reach nested values), optionally minus a baseline score from the same file.
"""
import json
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import typer


def lookup(data: Dict[str, Any], dotted: str) -> Optional[float]:
    value: Any = data
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, (int, float)) else None


def measure(check: Dict[str, Any], metrics_dir: Path) -> Optional[float]:
    path = metrics_dir / check["file"]
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf8"))
    score = lookup(data, check["score"])
    if score is None or "minus" not in check:
        return score
    baseline = lookup(data, check["minus"])
    return None if baseline is None else score - baseline


def main(floors_file: Path, metrics_dir: Path) -> None:
    spec = json.loads(floors_file.read_text(encoding="utf8"))
    failed = []
    print(f"Quality floors ({spec.get('setting', '')}), scores in points (x100)")
    print(f"{'check':<28} {'measured':>9} {'floor':>7}  result")
    for name, check in spec["checks"].items():
        value = measure(check, metrics_dir)
        floor = float(check["floor"])
        ok = value is not None and value >= floor
        shown = "missing" if value is None else f"{100 * value:.1f}"
        print(f"{name:<28} {shown:>9} {100 * floor:>7.1f}  {'pass' if ok else 'FAIL'}")
        if not ok:
            failed.append(name)
    if failed:
        print(f"Below the floor or missing: {', '.join(failed)}")
        sys.exit(1)
    print("All quality floors hold.")


if __name__ == "__main__":
    typer.run(main)
