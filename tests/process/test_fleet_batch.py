"""``xentui -b --format json -c A -c B -i 2`` as a process: both hosts' domains, each named after its host."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.libvirt_test_driver import driver_xml


def test_batch_json_of_two_hosts(tmp_path: Path) -> None:
    uris = []
    for name, count in (("a", 2), ("b", 3)):
        path = tmp_path / f"{name}.xml"
        path.write_text(driver_xml(count, host=count))
        uris += ["-c", f"test://{path}"]
    proc = subprocess.run([sys.executable, "-m", "xentui", "-b", "--format", "json", *uris, "-i", "2", "-d", "0.5"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    frames = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(f["version"], f["iteration"]) for f in frames] == [(2, 1), (2, 2)]
    for frame in frames:
        assert sorted((d["host"], d["name"]) for d in frame["domains"]) == [
            ("a", "dom0000"), ("a", "dom0001"), ("b", "dom0000"), ("b", "dom0001"), ("b", "dom0002")]
        assert [(h["name"], h["state"], h["domains"]) for h in frame["hosts"]] == [("a", "up", 2), ("b", "up", 3)]
        assert all(d["cpu_pct_of_one_pcpu"] is not None for d in frame["domains"])  # true rates from iteration 1
        assert frame["host"]["hypervisor"] == "fleet"
