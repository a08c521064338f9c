"""Sizes of the built wheels, and each slim package's size as a share of the full multitask one."""
import json
from pathlib import Path

import typer


def main(dist: Path, output: Path, full: str = "en_ptuning_multitask_full") -> None:
    sizes = {w.name.split("-")[0]: w.stat().st_size for w in sorted(dist.glob("*.whl"))}
    full_size = sizes.get(full)
    report = {
        name: {"bytes": size, "share_of_full": size / full_size if full_size else None} for name, size in sizes.items()
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2), encoding="utf8")
    for name, row in report.items():
        share = f"{row['share_of_full']:.2%}" if row["share_of_full"] is not None else "-"
        print(f"{name:32} {row['bytes'] / 1e6:9.2f} MB  {share:>8} of the full package")


if __name__ == "__main__":
    typer.run(main)
