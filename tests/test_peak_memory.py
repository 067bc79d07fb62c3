"""tools/peak_memory.py: the peak counts the memory of a command's child processes, and passes its exit status on."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parent.parent / "tools" / "peak_memory.py"
# A parent that starts a child holding 300 MiB for two seconds, then exits 7.
CHILD = "import time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(2)"
PARENT = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {CHILD!r}]); sys.exit(7)"


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="reads Linux's /proc")
def test_the_peak_includes_a_child_process_and_the_exit_status_is_kept():
    result = subprocess.run(
        [sys.executable, str(TOOL), "--every", "0.1", "--", sys.executable, "-c", PARENT],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 7
    peak = float(re.search(r"sum of PSS\): ([\d,]+) MiB", result.stderr).group(1).replace(",", ""))
    assert 300 <= peak < 600
