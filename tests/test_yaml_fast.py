"""The libyaml-based path of the strict loader gives the same data and the same
line:column for every key and value as the pure-Python path (which it replaces for
speed), including non-ASCII text; documents it cannot judge go to the Python path."""

from __future__ import annotations

import os
import threading
import time
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
    # YAML 1.1 scalars the fast path types itself, with PyYAML's resolver and constructors
    "scalars": (
        "a: 1\nb: 0x1f\nc: 1.5\nd: yes\ne: ~\nf: 2020-01-02\ng: 1_000\nh: .inf\n"
        "i: '1'\nj: \"no\"\nk:\nl: -0o17\nm: 1:30\nn: [Off, ON, null, '']\n1: x\ntrue: y\n"
    ),
    "wildcard": "match:\n  all: [declar*, {any: [end of war]}]\n",
    # explicit tags and a list as a key go to the Python loader; an anchor without an
    # alias and an explicit document start and end stay on the fast path
    "tags": "a: !!str 123\nb: !!int '7'\nc: !!set {x, y}\n",
    "list-key": "? [a, 1]\n: b\n",
    "anchor": "a: &x 1\nb: [2]\n",
    "explicit-document": "--- \na: 1\n...\n",
}


def both(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = yamlfile.load_yaml_text(text, "f.yaml")
    monkeypatch.setattr(yamlfile, "_CParser", None)
    slow = yamlfile.load_yaml_text(text, "f.yaml")
    monkeypatch.undo()
    return fast, slow


@pytest.mark.parametrize("text", [p.read_text() for p in DOCS] + list(EXTRA.values()))
def test_fast_path_gives_same_data_and_positions(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert yamlfile._CParser is not None  # libyaml is part of the PyYAML wheel
    (data, marks), (data2, marks2) = both(text, monkeypatch)
    assert data == data2
    assert marks.positions == marks2.positions


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("a: 1\nb: [1, 2\nc: 3\n", "f.yaml:3:", "YAML syntax: while parsing a flow sequence"),
        ("a: 1\na: 2\n", "f.yaml:2:1: a:", "duplicate key (first defined on line 1)"),
        ("a: &x 1\nb: *x\n", "f.yaml:2:4:", "aliases"),
        ("a: {b: 1}\nc:\n  <<: {d: 2}\n", "f.yaml:3:3:", "constructor for the tag"),
        ("a: 1\n---\nb: 2\n", "f.yaml:2:1:", "expected a single document"),
        ("a: !foo x\n", "f.yaml:1:4:", "constructor for the tag '!foo'"),
    ],
)
def test_errors_keep_the_python_loaders_wording(text: str, where: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        yamlfile.load_yaml_text(text, "f.yaml")
    shown = str(caught.value.problems[0])
    assert shown.startswith(where), shown
    assert message in shown


def test_alias_beside_a_wildcard_is_still_refused_at_the_alias() -> None:
    # A "*" no longer sends the file to the Python loader; libyaml's alias event does.
    text = "title: &t end of war\nmatch:\n  any: [declar*, *t]\n"
    with pytest.raises(ConfigError) as caught:
        yamlfile.load_yaml_text(text, "f.yaml")
    shown = str(caught.value.problems[0])
    assert shown.startswith("f.yaml:3:18: YAML syntax: YAML aliases"), shown


def refuse_python_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str) -> Any:
        raise AssertionError(f"the Python loader read {text!r}")

    monkeypatch.setattr(yamlfile, "_StrictLoader", refuse)


def test_wildcard_terms_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_python_loader(monkeypatch)
    data, marks = yamlfile.load_yaml_text(EXTRA["wildcard"], "f.yaml")
    assert data == {"match": {"all": ["declar*", {"any": ["end of war"]}]}}
    assert marks.at(("match", "all", 0)) == (2, 9)


@pytest.mark.parametrize(
    ("name", "fast"),
    [("tags", False), ("list-key", False), ("anchor", True), ("explicit-document", True)],
)
def test_what_the_fast_path_does_not_know_goes_to_the_python_loader(
    name: str, fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_python_loader(monkeypatch)
    if fast:
        yamlfile.load_yaml_text(EXTRA[name], "f.yaml")
    else:
        with pytest.raises(AssertionError, match="the Python loader read"):
            yamlfile.load_yaml_text(EXTRA[name], "f.yaml")


def test_duplicate_key_goes_to_the_python_loader_for_its_wording() -> None:
    # Even before a later syntax error: the Python loader decides which error is shown.
    with pytest.raises(ConfigError, match=r"f\.yaml:3:1: YAML syntax: while parsing"):
        yamlfile.load_yaml_text("a: 1\na: 2\n]\n", "f.yaml")


def test_positions_are_found_when_first_asked_and_match_the_python_loader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = EXTRA["flow-and-block"]
    _data, marks = yamlfile.load_yaml_text(text, "f.yaml")
    assert marks._positions is None  # not built for a file that needs none
    assert marks.problem(("f", 1, "h"), "x").line == 5
    monkeypatch.setattr(yamlfile, "_CParser", None)
    _, slow = yamlfile.load_yaml_text(text, "f.yaml")
    assert marks.positions == slow.positions
    assert marks == slow


def test_file_size_limit_and_reading(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(b"a: " + b"x" * yamlfile.MAX_FILE_BYTES)
    with pytest.raises(ConfigError, match=r"r.yaml: file is 1048579 bytes; the limit is 1 MiB"):
        yamlfile.load_yaml(path, display="r.yaml")
    path.write_bytes(b"a: \xff\n")
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 3\)"):
        yamlfile.load_yaml(path)
    path.write_text("a: [1, 2]\n")
    assert yamlfile.load_yaml(str(path))[0] == {"a": [1, 2]}
    with pytest.raises(ConfigError, match="cannot read: Is a directory"):
        yamlfile.load_yaml(tmp_path)


def test_a_file_without_a_size_is_read_to_its_end_and_capped(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "w") as fh:
            fh.write("a: 1\n")
            fh.flush()
            time.sleep(0.2)
            fh.write("b: 2\n")

    thread = threading.Thread(target=writer)
    thread.start()
    assert yamlfile.load_yaml(fifo)[0] == {"a": 1, "b": 2}
    thread.join()
    if Path("/dev/zero").exists():  # endless: refused at the limit instead of read forever
        zero = tmp_path / "zero.yaml"
        zero.symlink_to("/dev/zero")
        caught: list[BaseException] = []

        def read() -> None:
            try:
                yamlfile.load_yaml(zero)
            except ConfigError as exc:
                caught.append(exc)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout=30)  # a hang fails here instead of holding the suite
        assert not reader.is_alive()
        assert "file is larger than the 1 MiB limit" in str(caught[0])


def test_impossible_date_is_the_text_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Config and rule files share this loader: an unquoted impossible date is the text as
    written (YAML 1.2's reading), not a ValueError traceback, with the same positions on
    the libyaml and the Python path."""
    (data, marks), (data2, marks2) = both("a: 1\nsince: 2020-02-30\n", monkeypatch)
    assert data == data2 == {"a": 1, "since": "2020-02-30"}
    assert marks.positions == marks2.positions
