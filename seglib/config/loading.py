"""Loading params: YAML in, one error message naming every problem out; paths resolved from the params file.

Relative paths inside a params file are resolved against the folder that holds the
params file, so ``params/acme.yaml`` can say ``path: ../data/acme/sales.csv``.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from seglib.config.inputs import Strict
from seglib.config.schema import Params
from seglib.errors import InputDataError, ParamsError


def resolve_files(path: Path, role: str) -> list[Path]:
    """The files a path or glob names; a clear error when there are none."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text))
        if not files:
            raise InputDataError(
                f"{role}: the pattern '{text}' matches no file; check the path in the params "
                f"(it is relative to the params file)"
            )
        return files
    if not path.exists():
        parent = path.parent
        nearby = sorted(p.name for p in parent.iterdir())[:8] if parent.is_dir() else []
        hint = f" Files in {parent}: {', '.join(nearby)}." if nearby else ""
        raise InputDataError(
            f"{role}: file not found: '{path}'. Fix the 'path' in the params "
            f"(relative paths are read from the params file's folder).{hint}"
        )
    if path.is_dir():
        raise InputDataError(f"{role}: '{path}' is a folder; give a file or a glob such as '{path}/*.csv'")
    return [path]


def _describe_error(err: dict[str, Any], *, arguments: bool = False) -> str:
    """One schema error in words: the key (or, for ``arguments``, the function argument), the rule, what was found."""
    parts = [str(part) for part in err["loc"]]
    loc = ".".join(parts) or "(top level)"
    kind = err["type"]
    found = err.get("input")
    word = "argument" if arguments else "key"
    if kind == "extra_forbidden":
        return f"unknown {word} '{loc}' (found {found!r}); remove it or check its spelling"
    if kind == "missing":
        return f"missing required {word} '{loc}'"
    message = err["msg"].removeprefix("Value error, ")
    if kind == "value_error":  # seglib's own rules say what they found
        if not parts:
            return message
        return f"'{parts[0]}'{''.join(f'[{p}]' for p in parts[1:])} {message}" if arguments else f"{loc} {message}"
    shown = repr(found) if not isinstance(found, dict) else "a mapping"
    place = f"'{parts[0]}'" + "".join(f"[{p}]" for p in parts[1:]) if arguments else f"'{loc}'"
    return f"{place} {message} (found {shown})"


def check_arguments(section: type[Strict], values: dict[str, Any], where: str) -> Strict:
    """A params section built from a function's keyword arguments, checked by the same schema as the YAML.

    The constraints live once, in the schema: :func:`seglib.cluster.compare_models` called
    directly gets the same rules (and messages naming its arguments) as a params file.

    >>> from seglib.config.schema import ClusteringParams
    >>> check_arguments(ClusteringParams, {"k_min": 3, "k_max": 2}, "compare_models")
    Traceback (most recent call last):
    ...
    seglib.errors.ParamsError: compare_models: 'k_max' must be >= k_min=3 (got 2)
    """
    try:
        return section.model_validate(values)
    except ValidationError as exc:
        raise ParamsError(f"{where}: " + "; ".join(_describe_error(e, arguments=True) for e in exc.errors())) from None


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Keys allowed at the place of an unknown key, for the error message."""
    current: Any = model
    for part in loc[:-1]:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        for candidate in getattr(annotation, "__args__", (annotation,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                current = candidate
                break
        else:
            return []
    return sorted(getattr(current, "model_fields", {}).keys() - {"source_file"})


def validate_params(data: Any, source: str = "<params>") -> Params:
    """Validate a parsed params mapping; raise one ParamsError listing every problem."""
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: expected a mapping of keys at the top level (found {type(data).__name__})")
    if "source_file" in data:
        raise ParamsError(f"{source}: 'source_file' is set by seglib; remove it from the file")
    try:
        params = Params.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            line = _describe_error(err)
            if err["type"] == "extra_forbidden":
                allowed = _allowed_keys(Params, err["loc"])
                if allowed:
                    line += f" (allowed keys here: {', '.join(allowed)})"
            lines.append(line)
        raise ParamsError(f"{source}: " + "; ".join(lines)) from None
    params.source_file = source
    return params


def load_params(path: str | Path) -> Params:
    """Read and validate a params YAML file (``yaml.safe_load``: params are data, never code)."""
    path = Path(path)
    if path.is_dir():
        raise ParamsError(f"{path}: is a folder, not a params file; give one YAML file (seglib batch takes a "
                          f"folder of them)")
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found; check the path (cwd is {Path.cwd()})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ParamsError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise ParamsError(f"{path}: params files must be UTF-8 text") from None
    return validate_params(data, str(path))


def dump_params(params: Params) -> str:
    """The resolved params as YAML (for the run folder)."""
    return yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
