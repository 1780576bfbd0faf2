#!/usr/bin/env python3
"""One-command setup for a fresh machine (only Python 3.11+ needed).

    python3 dev.py demo    # set up .venv, then run the demo end to end and print the report's path
    python3 dev.py test    # set up .venv, then run the test suite
    python3 dev.py setup   # only set up .venv and the 'seglib' Jupyter kernel

Setup is idempotent. Each command needs some extras of pyproject.toml (demo: none; setup: `lab`,
JupyterLab; test: `dev` and `spark`); `.venv/.seglib-installed` records the pyproject.toml they
were installed from and every extra installed so far, so switching between the commands installs
nothing again: pip runs only when pyproject.toml changed or a command needs an extra not yet there.
"""

import hashlib
import json
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


#: The extras each command needs.
EXTRAS = {"demo": (), "setup": ("lab",), "test": ("dev", "spark")}
STAMP = VENV / ".seglib-installed"


def to_install(stamp_text: str | None, pyproject: bytes, wanted) -> set[str] | None:
    """The extras to install now (all of them: pip is given the union), or None when nothing is missing.

    ``stamp_text`` is what the last install recorded: the pyproject.toml hash and the extras
    installed so far. A changed pyproject.toml reinstalls them all, with the wanted ones.

    >>> first = to_install(None, b"v1", ["dev"]); sorted(first)
    ['dev']
    >>> stamp = json.dumps({"pyproject": hashlib.sha256(b"v1").hexdigest(), "extras": ["dev", "spark"]})
    >>> to_install(stamp, b"v1", ["dev"]) is None, to_install(stamp, b"v1", []) is None
    (True, True)
    >>> sorted(to_install(stamp, b"v1", ["lab"])), sorted(to_install(stamp, b"v2", []))
    (['dev', 'lab', 'spark'], ['dev', 'spark'])
    """
    digest = hashlib.sha256(pyproject).hexdigest()
    try:
        recorded = json.loads(stamp_text) if stamp_text else {}
    except ValueError:  # a stamp from an older dev.py: install once more
        recorded = {}
    installed = set(recorded.get("extras", [])) if isinstance(recorded, dict) else set()
    if recorded and recorded.get("pyproject") == digest and set(wanted) <= installed:
        return None
    return installed | set(wanted)


def setup(command: str = "setup") -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"seglib needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    if not PY.exists():
        sh(sys.executable, "-m", "venv", str(VENV))
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    extras = to_install(STAMP.read_text() if STAMP.exists() else None, pyproject, EXTRAS[command])
    if extras is None:
        return
    sh(str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    sh(str(PY), "-m", "pip", "install", "--quiet", "-e", f".[{','.join(sorted(extras))}]" if extras else ".")
    sh(str(PY), "-m", "ipykernel", "install", "--sys-prefix", "--name", "seglib",
       "--display-name", "Python (seglib)")
    STAMP.write_text(json.dumps({"pyproject": hashlib.sha256(pyproject).hexdigest(), "extras": sorted(extras)}))


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command == "setup":
        setup("setup")
    elif command == "demo":
        setup("demo")
        sh(str(BIN / "seglib"), "demo")
    elif command == "test":
        setup("test")  # the Spark equality test needs PySpark (and Java 17, which pip cannot install)
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
