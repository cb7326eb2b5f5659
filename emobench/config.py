"""Run configuration files: ``emobench run --config run.toml``.

A configuration holds the same fields as the flags of ``emobench run``, under
the flag's name with dashes (``data-root``, ``optuna-storage``...), in a
``[run]`` table (a file without tables is read as the run table)::

    [run]
    dataset = "sewa"
    model = "tiny-*"
    profile = "smoke"
    seed = 0

Flags given on the command line override the file. ``--save-config FILE``
writes the configuration a command resolved (file, then flags), so the same
run can be repeated. TOML is read with :mod:`tomllib`; ``.yaml`` / ``.yml``
files are read with PyYAML when it is installed.

Every result row of a run records ``run_config``: the resolved configuration,
the exact command line, the configuration file (if any) and whether the
emobench checkout had uncommitted changes.
"""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

SECTION = "run"


class ConfigError(ValueError):
    """A configuration file that cannot be read or holds unknown fields."""


def key_of(param: str) -> str:
    return param.replace("_", "-")


def param_of(key: str) -> str:
    return key.replace("-", "_")


def read(path: str | Path) -> dict[str, Any]:
    """The run fields of a configuration file, keys as written (dashes)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ConfigError(f"{path}: YAML needs PyYAML (pip install pyyaml); or use TOML") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    else:
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of fields, got {type(data).__name__}")
    if SECTION in data:
        others = sorted(k for k in data if k != SECTION)
        if others:
            raise ConfigError(f"{path}: unknown top-level entries {others} (fields go in [{SECTION}])")
        data = data[SECTION]
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: [{SECTION}] must be a table")
    return {key_of(str(k)): v for k, v in data.items()}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"cannot write non-finite number {value!r} to TOML")
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # TOML basic strings use JSON's escapes for quotes, backslashes and controls
    return json.dumps(str(value), ensure_ascii=False)


def dumps(fields: dict[str, Any], comment: str = "") -> str:
    """TOML text of a run configuration; fields that are None are left out
    (they mean "the default" and TOML has no null)."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines.append(f"[{SECTION}]")
    for key, value in fields.items():
        if value is None:
            continue
        lines.append(f"{key_of(key)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def write(path: str | Path, fields: dict[str, Any], comment: str = "") -> Path:
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        raise ConfigError(f"{path}: configurations are written as TOML; use a .toml name")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(fields, comment), encoding="utf-8")
    return path


@functools.cache
def checkout_dirty() -> bool | None:
    """Whether the emobench source checkout has uncommitted changes (None when
    emobench is not installed from a git checkout)."""
    here = Path(__file__).resolve().parent
    try:
        proc = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return bool(proc.stdout.strip())


def run_record(fields: dict[str, Any], config_file: str | Path | None = None,
               argv: list[str] | None = None) -> dict[str, Any]:
    """What a result row records about the run that made it."""
    return {"config": {key_of(k): (str(v) if isinstance(v, Path) else v) for k, v in fields.items()},
            "argv": list(sys.argv if argv is None else argv),
            "config_file": str(config_file) if config_file else None,
            "git_dirty": checkout_dirty()}
