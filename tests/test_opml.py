"""import-opml writes a feed file (never config.yaml), skips known feeds, and the daemon's
config then loads the imported feeds through feed_files."""

from __future__ import annotations

from pathlib import Path

import yaml

from monitor.notify import load_config
from tests.conftest import Workspace

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Reader export</title></head>
  <body>
    <outline text="Korea">
      <outline type="rss" text="Wire: North Korea" title="Wire: North Korea"
               xmlUrl="https://wire.example.test/nk.xml" htmlUrl="https://wire.example.test/"/>
      <outline type="rss" text="Analysis Desk" xmlUrl="https://desk.example.test/feed/"/>
    </outline>
    <outline type="rss" text="Already there" xmlUrl="https://known.example.test/rss"/>
    <outline type="rss" text="Wire: North Korea" xmlUrl="https://wire.example.test/nk2.xml"/>
    <outline type="rss" text="Gopher" xmlUrl="gopher://old.example.test/feed"/>
  </body>
</opml>
"""


def _setup(workspace: Workspace) -> str:
    original = (
        "# my comments stay\n"
        "feeds:\n  - name: known\n    url: https://known.example.test/rss\n"
        "notifiers:\n  t:\n    kind: console\n"
        "defaults:\n  notify: [t]\n"
    )
    workspace.config.write_text(original)
    (workspace.root / "export.opml").write_text(OPML)
    return original


def test_import_writes_a_feed_file_and_never_touches_config(workspace: Workspace) -> None:
    original = _setup(workspace)
    result = workspace.run("import-opml", "export.opml", "--tag", "Imported", "--interval", "30m")
    assert result.returncode == 0, result.stderr
    assert workspace.config.read_text() == original
    written = workspace.root / "feeds" / "export.yaml"
    doc = yaml.safe_load(written.read_text())
    feeds = {f["name"]: f for f in doc["feeds"]}
    assert set(feeds) == {"wire-north-korea", "analysis-desk", "wire-north-korea-2"}
    assert feeds["wire-north-korea"]["tags"] == ["imported", "korea"]
    assert feeds["wire-north-korea"]["interval"] == "30m"
    assert "already configured" in result.stderr
    assert "not an http(s) URL" in result.stderr
    assert "feed_files: [feeds/*.yaml]" in result.stderr

    # Once config.yaml lists the file, the feeds load with the rest.
    workspace.config.write_text(original + "feed_files: [feeds/*.yaml]\n")
    config = load_config(workspace.config)
    assert [f.name for f in config.feeds] == [
        "known",
        "wire-north-korea",
        "analysis-desk",
        "wire-north-korea-2",
    ]
    assert written in config.files

    # Importing again adds nothing new and refuses to overwrite.
    again = workspace.run("import-opml", "export.opml", "--output", "feeds/second.yaml")
    assert again.returncode == 0
    assert "nothing to import" in again.stdout


def test_dry_run_writes_nothing(workspace: Workspace) -> None:
    _setup(workspace)
    result = workspace.run("import-opml", "export.opml", "--dry-run")
    assert result.returncode == 0
    assert "3 feeds would be added" in result.stdout
    assert not (workspace.root / "feeds").exists()


def test_entity_declaring_opml_is_refused(workspace: Workspace) -> None:
    _setup(workspace)
    bomb = '<?xml version="1.0"?>\n<!DOCTYPE opml [\n<!ENTITY a "AAAA">\n]>\n<opml><body/></opml>'
    (workspace.root / "bomb.opml").write_text(bomb)
    result = workspace.run("import-opml", "bomb.opml")
    assert result.returncode != 0
    assert "entities" in result.stderr


def test_large_opml_imports_with_progress(workspace: Workspace, tmp_path: Path) -> None:
    _setup(workspace)
    outlines = "".join(
        f'<outline type="rss" text="Feed {i}" xmlUrl="https://f{i}.example.test/rss"/>'
        for i in range(3000)
    )
    (workspace.root / "big.opml").write_text(f"<opml><body>{outlines}</body></opml>")
    result = workspace.run("import-opml", "big.opml")
    assert result.returncode == 0, result.stderr
    assert "wrote 3000 feeds" in result.stdout
    assert "importing" in result.stderr  # the progress bar
    workspace.config.write_text(workspace.config.read_text() + "feed_files: [feeds/*.yaml]\n")
    assert len(load_config(workspace.config).feeds) == 3001


def test_duplicate_name_across_feed_files_is_an_error(workspace: Workspace) -> None:
    _setup(workspace)
    (workspace.root / "feeds").mkdir()
    (workspace.root / "feeds" / "a.yaml").write_text(
        "feeds:\n  - name: known\n    url: https://other.example.test/x\n"
    )
    workspace.config.write_text(workspace.config.read_text() + "feed_files: [feeds/*.yaml]\n")
    result = workspace.run("check")
    assert result.returncode == 2
    assert "feeds/a.yaml" in result.stderr
    assert "duplicate feed name 'known'" in result.stderr
