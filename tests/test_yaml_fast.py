"""The libyaml-based path of the strict loader gives the same data and the same
line:column for every key and value as the pure-Python path (which it replaces for
speed), including non-ASCII text; documents it cannot judge go to the Python path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.config import yamlfile
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
DOCS = [
    ROOT / "config.yaml",
    *sorted((ROOT / "rules").glob("*.yaml")),
    *sorted((ROOT / "examples").rglob("*.yaml")),
]
EXTRA = {
    "korean": "id: ko\ntitle: 종전선언 규칙\nmatch:\n  any: [종전선언, 종전 선언]\n",
    "flow-and-block": "a: {b: [1, 2, {c: d}], e: 'x: y'}\nf:\n  - g\n  -\n    h: i\n",
    "multiline": "t: |\n  line one\n  line two\nu: >\n  folded\n  text\nv: 10m\n",
    "empty": "",
}


def both(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = yamlfile.load_yaml_text(text, "f.yaml")
    monkeypatch.setattr(yamlfile, "_CLoader", None)
    slow = yamlfile.load_yaml_text(text, "f.yaml")
    monkeypatch.undo()
    return fast, slow


@pytest.mark.parametrize("text", [p.read_text() for p in DOCS] + list(EXTRA.values()))
def test_fast_path_gives_same_data_and_positions(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert yamlfile._CLoader is not None  # libyaml is part of the PyYAML wheel
    (data, marks), (data2, marks2) = both(text, monkeypatch)
    assert data == data2
    assert marks.positions == marks2.positions


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("a: 1\nb: [1, 2\nc: 3\n", "f.yaml:3:", "YAML syntax: while parsing a flow sequence"),
        ("a: 1\na: 2\n", "f.yaml:2:1: a:", "duplicate key (first defined on line 1)"),
        ("a: &x 1\nb: *x\n", "f.yaml:2:4:", "aliases"),
    ],
)
def test_errors_keep_the_python_loaders_wording(text: str, where: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        yamlfile.load_yaml_text(text, "f.yaml")
    shown = str(caught.value.problems[0])
    assert shown.startswith(where), shown
    assert message in shown
