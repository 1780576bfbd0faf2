#!/usr/bin/env python3
"""One-command setup for a fresh machine (only Python 3.11+ needed).

    python3 dev.py demo    # set up .venv, then run the demo end to end and print the report's path
    python3 dev.py test    # set up .venv, then run the test suite
    python3 dev.py setup   # only set up .venv and the 'seglib' Jupyter kernel

Setup is idempotent: the virtualenv is reinstalled only when pyproject.toml changes.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def sh(*args: str) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, check=True, cwd=ROOT)


def setup(extras: str = "dev") -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"seglib needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    if not PY.exists():
        sh(sys.executable, "-m", "venv", str(VENV))
    stamp = VENV / ".seglib-installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if not stamp.exists() or stamp.read_text() != want:
        sh(str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        sh(str(PY), "-m", "pip", "install", "--quiet", "-e", f".[{extras}]")
        sh(str(PY), "-m", "ipykernel", "install", "--sys-prefix", "--name", "seglib",
           "--display-name", "Python (seglib)")
        stamp.write_text(want)


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command == "setup":
        setup()
    elif command == "demo":
        setup()
        sh(str(BIN / "seglib"), "demo")
    elif command == "test":
        setup("dev,spark")  # the Spark equality test needs PySpark (and Java 17, which pip cannot install)
        sh(str(PY), "-m", "pytest", "-q", *sys.argv[2:])
    else:
        print(__doc__)
        return 0 if command == "help" else 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
