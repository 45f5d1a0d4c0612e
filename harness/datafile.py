"""Reading the YAML data files a lab edits (rig files, device profiles, the requirement catalogue).

One reader so every such file fails the same way: the message names the file, what kind of file it should
be, what went wrong and what to do, and the caller's own error type carries it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_yaml_mapping(
    path: Path, *, what: str, error: type[Exception], hint: str, loader: type[Any] = yaml.SafeLoader
) -> dict[str, Any]:
    """The top-level mapping of the YAML file ``path`` (a ``what``, e.g. "rig file").

    Raises ``error`` when the file cannot be read, is not YAML, or is not a mapping; ``hint`` says what to do
    when it cannot be read (e.g. "check the --rig path"). ``loader`` is a SafeLoader subclass (the rig
    file's keeps dates as text so their validation names the field).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror}); {hint}") from None
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise error(f"{path}: {what} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: {what}: expected a mapping at top level, got {type(data).__name__}")
    return data
