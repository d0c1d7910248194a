"""config.yaml: the shipped files load; every mistake names file:line and the key path."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from monitor.config import Config
from monitor.config.validation import parse_duration
from monitor.errors import ConfigError, Problem
from monitor.notify import load_config
from monitor.notify.console import ConsoleNotifier
from monitor.notify.slack import SlackNotifier
from monitor.notify.webhook import WebhookNotifier

REPO = Path(__file__).resolve().parent.parent

NOTIFIERS = "notifiers:\n  term:\n    kind: console\ndefaults:\n  notify: [term]\n"


def write_config(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_problems(tmp_path: Path, text: str) -> list[Problem]:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = info.value.problems
    assert problems
    for problem in problems:
        assert Path(problem.file).name == "config.yaml"
        assert (tmp_path / "config.yaml").samefile(Path.cwd() / problem.file)
    return problems


# --- the shipped configs ---------------------------------------------------------------------


def test_repo_config_loads() -> None:
    config = load_config(REPO / "config.yaml")
    assert config.path == (REPO / "config.yaml").resolve()
    assert config.database == (REPO / "state" / "newsmon.db").resolve()
    assert config.rules_dir == (REPO / "rules").resolve()
    names = [f.name for f in config.feeds]
    assert len(names) == len(set(names)) >= 1
    for feed in config.feeds:
        assert config.feed_source(feed).startswith(("https://", "http://"))
        assert config.feed_interval(feed) > 0
    assert config.defaults.notify
    assert set(config.defaults.notify) <= set(config.notifiers)
    assert "korea" in config.tags


def test_offline_example_config_loads() -> None:
    folder = REPO / "examples" / "offline"
    config = load_config(folder / "config.yaml")
    assert config.rules_dir == (folder / "rules").resolve()
    assert isinstance(config.database, Path)
    assert config.database.is_relative_to(folder.resolve())
    (feed,) = config.feeds
    source = Path(config.feed_source(feed))
    assert source.is_absolute()
    assert source.is_file()
    assert source.is_relative_to(folder.resolve())
    assert feed.backfill is True
    assert isinstance(config.notifiers["terminal"], ConsoleNotifier)


def test_defaults_apply(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "feeds:\n  - name: a\n    url: a.xml\n"))
    assert config.database == (tmp_path / "state" / "newsmon.db").resolve()
    assert config.rules_dir == (tmp_path / "rules").resolve()
    (feed,) = config.feeds
    assert (feed.enabled, feed.backfill, feed.tags, feed.interval) == (True, False, [], None)
    assert config.feed_interval(feed) == config.poll.default_interval
    assert (config.poll.tick, config.poll.min_interval, config.poll.max_interval) == (
        30.0,
        60.0,
        86400.0,
    )
    assert config.delivery.tick == 15.0
    assert config.dedupe.title_window == 7 * 86400.0


def test_empty_config_file_is_valid(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "# nothing yet\n"))
    assert config.feeds == ()
    assert config.notifiers == {}


def test_design_example_config_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.test/services/T/B/X")
    monkeypatch.setenv("WEBHOOK_SECRET", "whsec_c2VjcmV0")
    monkeypatch.setenv("SMTP_USER", "desk")
    monkeypatch.setenv("SMTP_PASSWORD", "pw")
    text = """\
database: state/newsmon.db
rules_dir: rules
feeds:
  - name: yonhap-nk
    url: https://example.org/nk.xml
    interval: 10m
    tags: [korea]
    enabled: true
    backfill: false
notifiers:
  newsroom:
    kind: slack
    webhook_url: ${SLACK_WEBHOOK_URL}
  archive:
    kind: webhook
    url: https://hooks.example.org/news
    secret: ${WEBHOOK_SECRET}
  desk-mail:
    kind: email
    host: smtp.example.org
    port: 587
    security: starttls
    username: ${SMTP_USER}
    password: ${SMTP_PASSWORD}
    sender: newsmon@example.org
    to: [desk@example.org]
defaults:
  notify: [newsroom]
poll:
  tick: 30s
  min_interval: 1m
  max_interval: 1d
delivery:
  tick: 15s
"""
    config = load_config(write_config(tmp_path, text))
    assert config.feeds[0].interval == 600.0
    assert config.poll.max_interval == 86400.0
    newsroom = config.notifiers["newsroom"]
    assert isinstance(newsroom, SlackNotifier)
    assert newsroom.webhook_url == "https://hooks.slack.test/services/T/B/X"
    archive = config.notifiers["archive"]
    assert isinstance(archive, WebhookNotifier)
    assert archive.secret == "whsec_c2VjcmV0"
    assert sorted(config.notifiers) == ["archive", "desk-mail", "newsroom"]


# --- errors ----------------------------------------------------------------------------------

FEED = "feeds:\n  - name: a\n    url: a.xml\n"


@pytest.mark.parametrize(
    ("text", "line", "path", "message"),
    [
        pytest.param("databse: x.db\n" + NOTIFIERS, 1, "databse", "unknown key", id="top-key"),
        pytest.param(
            NOTIFIERS + FEED + "    intervall: 10m\n",
            9,
            "feeds[0].intervall",
            "unknown key",
            id="feed-key",
        ),
        pytest.param(
            FEED + "    interval: true\n" + NOTIFIERS,
            4,
            "feeds[0].interval",
            "expected a duration",
            id="interval-true",
        ),
        pytest.param(
            FEED + "    interval: 10 minutes\n" + NOTIFIERS,
            4,
            "feeds[0].interval",
            "'10 minutes' is not a duration",
            id="interval-words",
        ),
        pytest.param(
            FEED + "    enabled: yes please\n",
            4,
            "feeds[0].enabled",
            "expected true or false",
            id="enabled-string",
        ),
        pytest.param(
            FEED + "    tags: korea\n", 4, "feeds[0].tags", "expected a list", id="tags-string"
        ),
        pytest.param(
            FEED + "  - name: b\n    url: b.xml\n  - name: a\n    url: c.xml\n",
            6,
            "feeds[2].name",
            "duplicate feed name 'a' (also feeds[0])",
            id="duplicate-feed",
        ),
        pytest.param(
            "feeds:\n  - name: Yonhap NK\n    url: a.xml\n",
            2,
            "feeds[0].name",
            "use lower-case letters, digits",
            id="feed-name-slug",
        ),
        pytest.param(
            "feeds:\n  - name: a\n", 2, "feeds[0].url", "required key is missing", id="no-url"
        ),
        pytest.param(
            "notifiers:\n  term:\n    kind: pager\n",
            3,
            "notifiers.term.kind",
            "expected one of console, webhook, slack, email, apprise, got 'pager'",
            id="notifier-kind",
        ),
        pytest.param(
            "notifiers:\n  term:\n    stream: stdout\n",
            2,
            "notifiers.term.kind",
            "got None",
            id="notifier-no-kind",
        ),
        pytest.param(
            "notifiers:\n  newsroom:\n    kind: slack\n",
            2,
            "notifiers.newsroom.webhook_url",
            "required key is missing",
            id="slack-missing-url",
        ),
        pytest.param(
            "notifiers:\n  desk:\n    kind: email\n    host: smtp.example.org\n"
            "    sender: a@example.org\n",
            2,
            "notifiers.desk.to",
            "required key is missing",
            id="email-missing-to",
        ),
        pytest.param(
            "notifiers:\n  hook:\n    kind: webhook\n    url: https://x.test\n    sekret: s\n",
            5,
            "notifiers.hook.sekret",
            "unknown key",
            id="notifier-unknown-key",
        ),
        pytest.param(
            "notifiers:\n  term:\n    kind: console\ndefaults:\n  notify: [term, newsroom]\n",
            5,
            "defaults.notify[1]",
            "unknown notifier 'newsroom'",
            id="defaults-notify",
        ),
        pytest.param(
            "poll:\n  min_interval: 2d\n  max_interval: 1d\n",
            2,
            "poll.min_interval",
            "larger than max_interval",
            id="min-above-max",
        ),
        pytest.param("- a\n- b\n", 1, "", "must be a mapping", id="not-a-mapping"),
        pytest.param("feeds: [\n", 2, "", "YAML syntax", id="yaml-syntax"),
        pytest.param(
            "database: a.db\ndatabase: b.db\n", 2, "database", "duplicate key", id="dup-key"
        ),
    ],
)
def test_config_errors(tmp_path: Path, text: str, line: int, path: str, message: str) -> None:
    problems = config_problems(tmp_path, text)
    problem = problems[0]
    assert message in problem.message
    assert problem.path == path
    assert problem.line == line
    head = f"{problem.file}:{line}:"
    assert str(problem).startswith(head)
    if path:
        assert f": {path}: " in str(problem)


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    text = (
        "databse: x\n"
        "feeds:\n  - name: a\n    url: a.xml\n    interval: soon\n    tags: korea\n"
        "poll:\n  tick: never\n"
    )
    problems = config_problems(tmp_path, text)
    assert sorted((p.line or 0, p.path) for p in problems) == [
        (1, "databse"),
        (5, "feeds[0].interval"),
        (6, "feeds[0].tags"),
        (8, "poll.tick"),
    ]


def test_notifier_problems_reported_beside_schema_problems(tmp_path: Path) -> None:
    text = "databse: x\nnotifiers:\n  n:\n    kind: pager\ndefaults:\n  notify: [nope]\n"
    paths = {p.path for p in config_problems(tmp_path, text)}
    assert paths == {"databse", "notifiers.n.kind", "defaults.notify[0]"}


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    (problem,) = info.value.problems
    assert problem.message == "config file not found"
    assert problem.file.endswith("nope.yaml")


# --- environment variables ---------------------------------------------------------------------


def test_missing_environment_variable_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    problems = config_problems(
        tmp_path, "notifiers:\n  newsroom:\n    kind: slack\n    webhook_url: ${NOPE_NOT_SET}\n"
    )
    named = [p for p in problems if "NOPE_NOT_SET" in p.message]
    assert len(named) == 1
    assert named[0].path == "notifiers.newsroom.webhook_url"
    assert named[0].line == 4
    assert "not set" in named[0].message


def test_environment_variables_are_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSMON_TEST_HOOK", "https://hooks.slack.test/services/T/B/X")
    monkeypatch.setenv("NEWSMON_TEST_HOST", "example.org")
    monkeypatch.setenv("NEWSMON_TEST_SECRET", "s3cr$t {x}")
    text = (
        "feeds:\n  - name: a\n    url: https://${NEWSMON_TEST_HOST}/feed.xml\n"
        "notifiers:\n"
        "  newsroom:\n    kind: slack\n    webhook_url: ${NEWSMON_TEST_HOOK}\n"
        "  archive:\n    kind: webhook\n    url: https://hooks.example.org/news\n"
        "    secret: pre-${NEWSMON_TEST_SECRET}-post\n"
        "# commented: ${NOPE_NOT_SET}\n"
    )
    config = load_config(write_config(tmp_path, text))
    assert config.feed_source(config.feeds[0]) == "https://example.org/feed.xml"
    newsroom = config.notifiers["newsroom"]
    assert isinstance(newsroom, SlackNotifier)
    assert newsroom.webhook_url == "https://hooks.slack.test/services/T/B/X"
    archive = config.notifiers["archive"]
    assert isinstance(archive, WebhookNotifier)
    # The value is inserted as is: no second round of expansion, no YAML parsing.
    assert archive.secret == "pre-s3cr$t {x}-post"


def test_environment_variable_for_a_number(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSMON_TEST_PORT", "2525")
    text = (
        "notifiers:\n  desk:\n    kind: email\n    host: smtp.example.org\n"
        "    port: ${NEWSMON_TEST_PORT}\n    sender: a@example.org\n    to: [b@example.org]\n"
    )
    config = load_config(write_config(tmp_path, text))
    assert getattr(config.notifiers["desk"], "port", None) == 2525


# --- relative paths -------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "deploy" / "newsmon"
    folder.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    text = (
        "database: db/news.db\n"
        "rules_dir: ../shared-rules\n"
        "feeds:\n"
        "  - name: local\n    url: feeds/local.xml\n"
        "  - name: file-url\n    url: file://feeds/other.xml\n"
        "  - name: absolute\n    url: /srv/feeds/abs.xml\n"
        "  - name: web\n    url: https://example.org/feed.xml?x=1\n"
    )
    config = load_config(write_config(folder, text))
    assert config.database == (folder / "db" / "news.db").resolve()
    assert config.rules_dir == (tmp_path / "deploy" / "shared-rules").resolve()
    sources = {f.name: config.feed_source(f) for f in config.feeds}
    assert sources == {
        "local": str((folder / "feeds" / "local.xml").resolve()),
        "file-url": str((folder / "feeds" / "other.xml").resolve()),
        "absolute": str(Path("/srv/feeds/abs.xml").resolve()),
        "web": "https://example.org/feed.xml?x=1",
    }


def test_config_given_as_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    write_config(folder, "feeds:\n  - name: a\n    url: a.xml\n")
    monkeypatch.chdir(tmp_path)
    config: Config = load_config(Path("site/config.yaml"))
    assert config.feed_source(config.feeds[0]) == str((folder / "a.xml").resolve())
    assert config.rules_dir == (folder / "rules").resolve()


# --- durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30.0),
        ("10m", 600.0),
        ("6h", 21600.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        (" 10M ", 600.0),
        ("0s", 0.0),
        # a number of seconds written as text: `--since 3600`, `timeout: ${POLL_TIMEOUT}`
        ("3600", 3600.0),
        (" 2.5 ", 2.5),
        (90, 90.0),
        (2.5, 2.5),
        (0, 0.0),
    ],
)
def test_parse_duration(value: str | float, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "-1s",
        "10 minutes",
        "10 20",
        "",
        "s",
        "1x",
        "10m later",
        "1d2",
        -1,
        True,
        None,
        [10],
        math.nan,
        math.inf,
    ],
)
def test_parse_duration_errors(value: object) -> None:
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration(value)


def test_duration_in_config(tmp_path: Path) -> None:
    text = FEED + "    interval: 1h30m\npoll:\n  tick: 5s\n  max_interval: 2d\n"
    config = load_config(write_config(tmp_path, text))
    assert config.feeds[0].interval == 5400.0
    assert config.poll.tick == 5.0
    assert config.poll.max_interval == 172800.0


@pytest.mark.parametrize(
    ("snippet", "path"),
    [
        ("poll:\n  max_body: -1\n", "poll.max_body"),
        ("poll:\n  max_body: 0\n", "poll.max_body"),
        ("poll:\n  timeout: 0s\n", "poll.timeout"),
        ("poll:\n  connect_timeout: 0\n", "poll.connect_timeout"),
        ("poll:\n  read_timeout: 0s\n", "poll.read_timeout"),
        ("poll:\n  tick: 0s\n", "poll.tick"),
        ("delivery:\n  tick: 0s\n", "delivery.tick"),
        ("delivery:\n  timeout: 0s\n", "delivery.timeout"),
    ],
)
def test_sizes_and_timings_that_cannot_work_are_problems(
    tmp_path: Path, snippet: str, path: str
) -> None:
    """`check` used to accept these; with max_body: -1 every feed then failed ("file too
    large: 2752 bytes (limit -1)"), and a zero timeout or tick means nothing."""
    problems = config_problems(tmp_path, FEED + NOTIFIERS + snippet)
    assert [p.path for p in problems] == [path]
    assert "must be more than 0" in problems[0].message


def test_unquoted_dates_in_the_config_are_reported_at_their_keys(tmp_path: Path) -> None:
    """A real date where text goes gets a hint; an impossible one is read as the text as
    written and judged at its key, and neither hides the file's other problems (an
    impossible date used to stop the load with a bare ValueError)."""
    text = FEED + NOTIFIERS + "poll:\n  user_agent: 2021-11-10\n  tymeout: 5s\n"
    text += "retention:\n  items: 2020-13-45\n"
    problems = config_problems(tmp_path, text)
    by_path = {p.path: p.message for p in problems}
    assert set(by_path) == {"poll.user_agent", "poll.tymeout", "retention.items"}
    assert by_path["poll.user_agent"] == (
        "expected a string, got date 2021-11-10 (quote it to keep it as text)"
    )
    assert "'2020-13-45' is not a duration" in by_path["retention.items"]
