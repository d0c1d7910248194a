"""Keep README.md true (the urlwatch / datasette way).

* every config key the pydantic models accept is documented, with the right default;
* every rule-file key, command, option and monitor/ module is documented;
* every ```yaml block parses; rule blocks load and their examples pass; config blocks load;
* the webhook JSON body and headers shown are the ones sent, and the README's signature
  check verifies real requests.

The expected names are built from the code, so a new key, option or module without docs
fails here.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import re
import textwrap
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import click
import httpx
import pytest
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from monitor import __version__
from monitor.cli import cli
from monitor.config.model import ConfigFile
from monitor.config.yamlfile import load_yaml_text
from monitor.matching.automaton import Automaton
from monitor.matching.rules import RuleSet, _RuleFile, check_examples, load_rule
from monitor.models import Alert, Delivery, Item
from monitor.notify import KINDS, NotifierConfig, load_config
from monitor.notify import MODELS as NOTIFIER_MODELS
from monitor.notify.payload import alert_document, digest_document
from monitor.notify.webhook import WebhookNotifier, WebhookSender

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Values for README variables that are parts of an Apprise URL (which Apprise validates).
ENV_EXAMPLES = {
    "TELEGRAM_BOT_TOKEN": "123456789:ABCdefGhIJKlmnOPQRstuVWXyz0123456789",
    "TELEGRAM_CHAT_ID": "12345678",
    "NTFY_TOPIC": "newsroom-alerts",
}
FENCE = re.compile(r"^([ \t]*)```(\w*)[ \t]*\n(.*?)^[ \t]*```[ \t]*$", re.MULTILINE | re.DOTALL)


# -- reading the README ---------------------------------------------------------------


@functools.cache
def readme() -> str:
    return README.read_text(encoding="utf-8")


@functools.cache
def code_spans() -> tuple[str, ...]:
    """Every `inline code` span of the README (fenced blocks excluded)."""
    prose = FENCE.sub("", readme())
    return tuple(re.findall(r"`([^`\n]+)`", prose))


def code_blocks(lang: str) -> list[tuple[int, str]]:
    """(line number, dedented text) of every fenced block in ``lang``."""
    text = readme()
    return [
        (text.count("\n", 0, m.start()) + 1, textwrap.dedent(m.group(3)))
        for m in FENCE.finditer(text)
        if m.group(2) == lang
    ]


@functools.cache
def table_rows() -> dict[str, list[list[str]]]:
    """Markdown table rows whose first cell is one `code` span, by that span's text."""
    rows: dict[str, list[list[str]]] = {}
    for raw in readme().splitlines():
        line = raw.strip()
        if not line.startswith("| `") or not line.endswith("|"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]
        match = re.fullmatch(r"`([^`]+)`", cells[0])
        if match:
            rows.setdefault(match.group(1), []).append(cells)
    return rows


def in_code_span(word: str) -> bool:
    """Is ``word`` a whole token inside some `code` span of the README?"""
    token = re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])")
    return any(token.search(span) for span in code_spans())


# -- what the code accepts -----------------------------------------------------------


def model_keys(model: type[BaseModel], prefix: str = "") -> dict[str, FieldInfo]:
    """Documented names of a model's keys: ``poll.tick``, ``feeds[].name`` ..."""
    keys: dict[str, FieldInfo] = {}
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        keys[key] = info
        annotation = info.annotation
        args = get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys.update(model_keys(annotation, f"{key}."))
        elif (
            get_origin(annotation) is list
            and args
            and isinstance(args[0], type)
            and issubclass(args[0], BaseModel)
        ):
            keys.update(model_keys(args[0], f"{key}[]."))
    return keys


def config_keys() -> dict[str, FieldInfo]:
    """Every config key; notifier options are named ``<kind>.<key>`` (``slack.timeout``)."""
    keys = model_keys(ConfigFile)
    for kind, model in NOTIFIER_MODELS.items():
        keys.update(model_keys(model, f"{kind}."))
    return keys


CONFIG_KEYS = config_keys()
RULE_KEYS = model_keys(_RuleFile)


def cli_options() -> list[tuple[str, click.Parameter, str]]:
    """(command path, parameter, name as written) of every option and argument."""
    out: list[tuple[str, click.Parameter, str]] = []
    commands: list[tuple[str, click.Command]] = [("newsmon", cli)]
    commands += [(f"newsmon {name}", cmd) for name, cmd in sorted(cli.commands.items())]
    for where, command in commands:
        for param in command.params:
            if isinstance(param, click.Option):
                out += [(where, param, opt) for opt in (*param.opts, *param.secondary_opts)]
            elif isinstance(param, click.Argument):
                out.append((where, param, param.human_readable_name))
    return out


def sample_delivery() -> Delivery:
    item = Item(
        title="A title",
        summary="A summary",
        content="",
        link="https://www.example.org/story",
        guid="guid-1",
        published="2021-11-10T03:42:00Z",
    )
    alert = Alert("alert-1", "a-rule", "A rule", "a-feed", item, ("title",), 0.0)
    return Delivery(id="delivery-1", alert=alert, notifier="archive", attempts=0)


# -- config keys ------------------------------------------------------------------------


def test_the_model_walk_finds_every_section() -> None:
    assert set(get_args(NotifierConfig)) == set(NOTIFIER_MODELS.values())
    assert set(KINDS) == set(NOTIFIER_MODELS)
    for key in ("database", "feeds[].url", "defaults.notify", "poll.max_body", "email.to"):
        assert key in CONFIG_KEYS
    assert {"examples.match", "examples.no_match"} <= set(RULE_KEYS)


@pytest.mark.parametrize("key", sorted(CONFIG_KEYS))
def test_config_key_is_documented(key: str) -> None:
    assert f"`{key}`" in readme(), f"README.md does not document the config key `{key}`"


def _check_default(key: str, info: FieldInfo, cell: str) -> str | None:
    if info.is_required():
        return None if "required" in cell else f"`{key}` is required; the row says {cell!r}"
    default = info.get_default(call_default_factory=True)
    if default is None or isinstance(default, BaseModel):
        return None  # explained in words ("none", "see below")
    match = re.search(r"`([^`]*)`", cell)
    if match is None:
        return f"`{key}`: the default column should show `{default!r}` in backticks"
    text = match.group(1).replace("<version>", __version__)
    value: Any
    if info.annotation is str:
        value = text
    else:
        raw, _ = load_yaml_text(text, f"README default of {key}")
        target: Any = (
            Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        )
        value = TypeAdapter(target).validate_python(raw)
    if value != default:
        return f"`{key}`: README says the default is {text!r}, the code says {default!r}"
    return None


@pytest.mark.parametrize("key", sorted(CONFIG_KEYS))
def test_config_key_has_a_reference_row_with_its_default(key: str) -> None:
    rows = table_rows().get(key)
    assert rows, f"README.md has no table row | `{key}` | type | default | meaning |"
    info = CONFIG_KEYS[key]
    for cells in rows:
        assert len(cells) >= 4, f"row for `{key}` needs key, type, default and meaning"
        problem = _check_default(key, info, cells[2])
        assert problem is None, problem


@pytest.mark.parametrize("key", sorted(RULE_KEYS))
def test_rule_file_key_is_documented(key: str) -> None:
    assert f"`{key}`" in readme(), f"README.md does not document the rule-file key `{key}`"


# -- commands and options ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_is_documented(name: str) -> None:
    assert any(span.startswith(f"newsmon {name}") for span in code_spans()), (
        f"README.md does not document `newsmon {name}`"
    )


@pytest.mark.parametrize(
    ("where", "param", "name"),
    cli_options(),
    ids=[f"{where}:{name}" for where, _, name in cli_options()],
)
def test_option_is_documented(where: str, param: click.Parameter, name: str) -> None:
    assert in_code_span(name), f"README.md does not document {name} of `{where}`"
    if isinstance(param.type, click.Choice):
        for choice in param.type.choices:
            assert any(
                name in span and re.search(rf"(?<![\w-]){re.escape(str(choice))}(?![\w-])", span)
                for span in code_spans()
            ), f"README.md does not list {choice!r} as a value of {name}"


def test_help_options_are_documented() -> None:
    names = (cli.context_settings or {}).get("help_option_names", ["--help"])
    for name in names:
        assert in_code_span(name), f"README.md does not mention {name}"


# -- layout -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module",
    sorted(
        p.relative_to(ROOT / "monitor").as_posix()
        for p in (ROOT / "monitor").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") or p.parent.name == "notify"
    ),
)
def test_module_is_in_the_project_layout(module: str) -> None:
    assert Path(module).name in readme(), f"README.md's project layout misses monitor/{module}"


def test_quick_start_paths_exist() -> None:
    for path in ("examples/offline/config.yaml", "config.yaml", "rules", "state"):
        assert f"{path}" in readme()
        assert (ROOT / path).exists(), path
    for script in ("scripts/check", ".ci/run"):
        assert f"`{script}`" in readme() or f"./{script}" in readme(), script
        assert (ROOT / script).is_file(), script


# -- YAML examples ----------------------------------------------------------------------

YAML_BLOCKS = code_blocks("yaml")


def test_the_readme_has_rule_and_config_examples() -> None:
    assert len(YAML_BLOCKS) >= 5


@pytest.mark.parametrize(
    ("line", "text"), YAML_BLOCKS, ids=[f"README.md:{line}" for line, _ in YAML_BLOCKS]
)
def test_yaml_example(
    line: int, text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _ = load_yaml_text(text, f"README.md:{line}")
    assert isinstance(data, dict), f"README.md:{line}: a YAML example must be a mapping"
    if "match" in data:
        path = tmp_path / f"{data.get('id') or 'readme-rule'}.yaml"
        path.write_text(text, encoding="utf-8")
        automaton = Automaton()
        rule = load_rule(path, automaton, f"README.md:{line}")
        assert rule.examples_match, f"README.md:{line}: give the rule examples so they are run"
        problems = check_examples(RuleSet([rule], automaton), rule)
        assert not problems, "\n".join(str(p) for p in problems)
        return
    unknown = set(data) - set(ConfigFile.model_fields)
    assert not unknown, (
        f"README.md:{line}: neither a rule (no `match:`) nor a config "
        f"(unknown top-level keys {sorted(unknown)})"
    )
    for name in set(ENV_VAR.findall(text)):
        monkeypatch.setenv(name, ENV_EXAMPLES.get(name, "https://example.org/from-the-environment"))
    (tmp_path / str(data.get("rules_dir", "rules"))).mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    assert len(config.feeds) == len(data.get("feeds", []))
    assert set(config.notifiers) == set(data.get("notifiers", {}))


# -- webhook documentation --------------------------------------------------------------


def _keys(value: Any) -> Any:
    """The shape of a JSON document: its keys, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keys(value[0])] if value and isinstance(value[0], dict) else []
    return None


def test_json_examples_parse_and_have_the_sent_shape() -> None:
    sent = {
        "alert": alert_document(sample_delivery()),
        "digest": digest_document([sample_delivery()]),
    }
    documents = [json.loads(text) for _, text in code_blocks("json")]
    shown = {d.get("type") for d in documents if isinstance(d, dict)}
    assert set(sent) <= shown, f"README.md shows no webhook body of type {set(sent) - shown}"
    for doc in documents:
        assert isinstance(doc, dict), doc
        assert doc.get("type") in sent, doc
        assert _keys(doc) == _keys(sent[doc["type"]]), f"README body of type {doc['type']}"


def _send_webhook(secret: str | None) -> httpx.Request:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    config = WebhookNotifier.model_validate(
        {"kind": "webhook", "url": "https://hooks.example.org/news", "secret": secret}
    )

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            await WebhookSender("archive", config, client).send(sample_delivery())

    asyncio.run(go())
    assert len(seen) == 1
    return seen[0]


GENERIC_HEADERS = {
    "accept",
    "accept-encoding",
    "connection",
    "content-length",
    "content-type",
    "host",
    "user-agent",
}


def test_every_webhook_header_is_documented() -> None:
    request = _send_webhook("a shared secret")
    names = [raw.decode("ascii") for raw, _ in request.headers.raw]
    specific = [n for n in names if n.lower() not in GENERIC_HEADERS]
    assert {"webhook-id", "webhook-signature"} <= {n.lower() for n in specific}
    for name in specific:
        assert f"`{name}`" in readme(), f"README.md does not document the {name} header"


def _readme_verify() -> Any:
    sources = [text for _, text in code_blocks("python") if "def verify(" in text]
    assert len(sources) == 1, "README.md should show one verify() example"
    scope: dict[str, Any] = {}
    exec(compile(sources[0], "README.md", "exec"), scope)  # noqa: S102 - our own README
    return scope["verify"]


@pytest.mark.parametrize(
    "secret",
    ["plain shared secret", "whsec_" + base64.b64encode(bytes(range(24))).decode()],
)
def test_the_readme_signature_check_verifies_real_requests(secret: str) -> None:
    verify = _readme_verify()
    request = _send_webhook(secret)
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert verify(secret, headers, request.content)
    assert not verify(secret, headers, request.content + b" ")
    assert not verify("another secret", headers, request.content)
