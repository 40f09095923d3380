"""Which machine a benchmark ran on: one line that every script in ``benchmarks/`` prints.

Figures from different CPUs are not comparable (AVX-512 or not, vendor FFT and BLAS kernels),
so each script prints the CPU model (``/proc/cpuinfo``'s ``model name``), the number of logical
CPUs, whether the CPU has AVX-512, and the SIMD level torch dispatches to
(``torch.backends.cpu.get_cpu_capability()``) beside its figures.

    from machine import print_machine  # the scripts run as ``python benchmarks/<name>.py``
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else :func:`platform.processor`)."""
    try:
        for line in CPUINFO.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def has_avx512() -> bool | None:
    """Whether the CPU flags list ``avx512f`` (None where ``/proc/cpuinfo`` is unreadable)."""
    try:
        text = CPUINFO.read_text()
    except OSError:
        return None
    return any(line.startswith("flags") and "avx512f" in line.split() for line in text.splitlines())


def torch_capability() -> str:
    """``torch.backends.cpu.get_cpu_capability()``, or why it is unavailable.

    Asked in a child process unless torch is already loaded here, so that the scripts that
    never load torch keep their memory and timing figures free of it.
    """
    if "torch" in sys.modules:
        return str(sys.modules["torch"].backends.cpu.get_cpu_capability())
    probe = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    try:
        result = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown (torch could not be loaded)"
    return result.stdout.strip() or "unknown"


def machine_line() -> str:
    """One line: CPU model, logical CPUs, AVX-512, torch's CPU capability."""
    avx512 = {True: "yes", False: "no", None: "unknown"}[has_avx512()]
    return (
        f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs, AVX-512 {avx512}; "
        f"torch CPU capability {torch_capability()})"
    )


def print_machine() -> None:
    """Print :func:`machine_line` (call it beside the script's figures)."""
    print(machine_line(), flush=True)
