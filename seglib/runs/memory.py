"""Peak memory of a stage: this process and its kernel, sampled in a thread."""

from __future__ import annotations


class PeakMemory:
    """Peak resident memory of this process and its children (the kernel), sampled in a thread.

    Use as a context manager around one stage; ``gib`` is the peak seen.
    """

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.gib = 0.0

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(self.interval):
            try:
                rss = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
            except psutil.Error:
                continue
            self.gib = max(self.gib, rss / 2**30)

    def __enter__(self) -> "PeakMemory":
        import threading

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
