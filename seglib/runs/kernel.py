"""The Jupyter kernel the stages run in: registered under one name, reached over local sockets only, and kept
warm from one stage to the next (:class:`WarmKernel`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from seglib.artifacts import SCRATCH_ENV, process_scratch

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


def local_kernel_manager(log: Path | None = None, scratch: Path | None = None):
    """A kernel manager whose kernels talk over local (IPC) sockets, not TCP ports.

    Nothing is reachable from the network, and ipykernel no longer warns at every stage
    that it runs over TCP without encryption. The sockets live in a short per-process
    folder under the system temp dir (socket paths are limited to about 100 characters),
    removed when the process ends. With ``log``, what the kernel writes to stderr (its own
    log lines, such as the KeyboardInterrupt it reports when a failed stage is shut down)
    goes to that file instead of the user's terminal; errors in cells reach the run as
    usual, through the notebook. With ``scratch``, the kernel keeps its temporary files
    (staged input copies, Spark's scratch) there (``$SEGLIB_SCRATCH``, read by
    :func:`seglib.artifacts.process_scratch`), inside the run folder, so a killed run's
    leftovers are found by the next run.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum, default

    sockets = process_scratch("seglib-k")

    class LocalKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        @default("ip")
        def _ip_default(self) -> str:
            return str(sockets / "kernel")

        async def _async_pre_start_kernel(self, **kw):  # jupyter_client's hook for the launch arguments
            kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
            if log is not None:
                kw["stderr"] = open(log, "a", encoding="utf-8")  # noqa: SIM115 - the kernel process owns it
            if scratch is not None:
                kw["env"] = {**kw.get("env", os.environ), SCRATCH_ENV: str(scratch)}
            return kernel_cmd, kw

    return LocalKernelManager


class WarmKernel:
    """One kernel for all five stages of a run: started early (:meth:`start`), its namespace reset before each
    next stage, shut down at the end (a context manager).

    Importing pandas, scikit-learn, seaborn and Ibis takes seconds; a fresh kernel per stage paid that five
    times. The stages share nothing but the kernel process: every notebook starts from an empty namespace
    (``%reset -f``) and reads what it needs from the run folder, as it does when run alone.
    """

    def __init__(self, kernel_name: str, log: Path | None = None, scratch: Path | None = None):
        self.km = local_kernel_manager(log, scratch)(kernel_name=kernel_name)
        self._client = None

    def start(self, cwd: Path, imports: tuple[str, ...] = (), later: tuple[str, ...] = ()) -> None:
        """Start the kernel in ``cwd`` now and have it import ``imports`` while the caller goes on, then
        ``later`` in a thread of its own while the first notebook runs (:func:`seglib.notebook.import_in_background`).

        The runner starts the kernel before it has finished its own preparations (the input checks,
        papermill's import, the manifest), so the kernel's start and the stages' imports overlap them on the
        machine's other core. The imports are only sent: the first notebook's cells queue behind them in the
        kernel, and an import that fails is reported by the notebook's own import cell, with its cell and error.
        """
        from jupyter_client.utils import run_sync

        # The arguments papermill's client would start it with (history in memory, not in the user's profile).
        run_sync(self.km.start_kernel)(cwd=str(cwd), extra_arguments=["--HistoryManager.hist_file=:memory:"])
        code = f"import {', '.join(imports)}" if imports else ""
        if later:
            code += f"\nimport seglib.notebook\nseglib.notebook.import_in_background({list(later)!r})"
        if code:
            self.client().execute(code, silent=True, store_history=False)

    def reset(self) -> None:
        """An empty namespace (modules stay imported, the later imports done), before the next stage's notebook."""
        if not self.km.has_kernel:
            return
        self.client().execute_interactive("import seglib.notebook\nseglib.notebook.imports_done()\n%reset -f",
                                          store_history=False, timeout=600)

    def client(self):
        """This runner's own client on the kernel (papermill's client is another), started once; it waits for the
        kernel to answer only when it first needs an answer."""
        if self._client is None:
            from jupyter_client import BlockingKernelClient

            self._client = BlockingKernelClient()
            self._client.load_connection_info(self.km.get_connection_info())
            self._client.start_channels()
        return self._client

    def close(self) -> None:
        """Shut the kernel down (again: nothing)."""
        if self._client is not None:
            self._client.stop_channels()
            self._client = None
        if self.km.has_kernel:
            from jupyter_client.utils import run_sync

            run_sync(self.km.shutdown_kernel)(now=True)

    def __enter__(self) -> "WarmKernel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
