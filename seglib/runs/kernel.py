"""The Jupyter kernel every stage runs in: registered under one name, reached over local sockets only."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import sys
import tempfile
from pathlib import Path


KERNEL_NAME = "seglib"


def ensure_kernel() -> str:
    """Register the ``seglib`` kernel for this Python if it is missing; return its name.

    Runs always name this kernel, so a notebook saved in JupyterLab under another kernel
    name still runs in batch.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    spec_dir = specs.get(KERNEL_NAME)
    if spec_dir:
        argv = json.loads((Path(spec_dir) / "kernel.json").read_text())["argv"]
        if Path(argv[0]).resolve() == Path(sys.executable).resolve():
            return KERNEL_NAME
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL_NAME, display_name="Python (seglib)", prefix=sys.prefix)
    return KERNEL_NAME


def local_kernel_manager():
    """A kernel manager whose kernels talk over local (IPC) sockets, not TCP ports.

    Nothing is reachable from the network, and ipykernel no longer warns at every stage
    that it runs over TCP without encryption. The sockets live in a short per-process
    folder under the system temp dir (socket paths are limited to about 100 characters),
    removed when the process ends.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum, default

    sockets = _socket_folder()

    class LocalKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        @default("ip")
        def _ip_default(self) -> str:
            return str(sockets / "kernel")

    return LocalKernelManager



@functools.cache
def _socket_folder() -> Path:
    """One short folder per process for the kernels' sockets, removed when the process ends."""
    folder = Path(tempfile.mkdtemp(prefix="seglib-k"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder
