"""HTML comes from templates with autoescape, never from string formatting: the source says so, and hostile text
in every block of the report stays inert text."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd
import pytest

from seglib import artifacts
from seglib.config import load_params
from seglib.rendering import TEMPLATES, table_html
from seglib.report import load_run
from seglib.report.forecast import ForecastText
from tests.hostile import BREAKOUT, HOSTILE, SCRIPT, TEMPLATE, assert_inert

ROOT = Path(__file__).resolve().parents[1]
#: The modules that make HTML: the report stage and the rendering below it.
HTML_MODULES = [*sorted((ROOT / "seglib" / "report").glob("*.py")), ROOT / "seglib" / "rendering.py"]
TAG = re.compile(r"<[A-Za-z/!]")
REGEX_FUNCTIONS = {"compile", "sub", "subn", "search", "match", "fullmatch", "findall", "finditer", "split"}
#: Where markup may be declared safe: a rendered template, and nbconvert's body of the report notebook.
MARKUP_ALLOWED = {("rendering.py", "render"), ("rendering.py", "render_report_html")}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _read_not_written(tree: ast.AST) -> set[int]:
    """Strings that hold tags without making HTML: docstrings (and their doctests), nbconvert's template
    (OFFLINE_TEMPLATE) and the patterns of regular expressions that read pages."""
    allowed = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "OFFLINE_TEMPLATE" for t in node.targets):
            allowed |= {id(n) for n in ast.walk(node.value)}
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args
              and getattr(node.func.value, "id", None) == "re" and node.func.attr in REGEX_FUNCTIONS):
            allowed |= {id(n) for n in ast.walk(node.args[0])}
    return allowed


def _holds_tag(node: ast.AST) -> bool:
    """A string holding a tag, or an f-string one of whose literal parts does."""
    if isinstance(node, ast.JoinedStr):
        return any(_holds_tag(part) for part in node.values)
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(TAG.search(node.value))


def _how(parent: ast.AST | None, node: ast.AST) -> str:
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    if isinstance(parent, ast.BinOp):
        return {ast.Mod: "% formatting", ast.Add: "concatenation"}.get(type(parent.op), "an operation")
    if isinstance(parent, ast.Attribute) and parent.attr in ("format", "join"):
        return f".{parent.attr}"
    return "a string"


def html_in_code(source: str, name: str) -> list[str]:
    """Every place in ``source`` that writes HTML in code: a string holding a tag (in an f-string, % or .format,
    concatenated, or alone), and markup declared safe outside :data:`MARKUP_ALLOWED`."""
    tree = ast.parse(source)
    allowed = _read_not_written(tree)
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    functions = {id(n): f.name for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for n in ast.walk(f)}
    found = []
    for node in ast.walk(tree):
        if _holds_tag(node) and id(node) not in allowed and not isinstance(parents.get(id(node)), ast.JoinedStr):
            found.append((node.lineno, f"{name}:{node.lineno}: HTML in {_how(parents.get(id(node)), node)}"))
        elif (isinstance(node, ast.Call) and "Markup" in (getattr(node.func, "id", None), getattr(node.func, "attr", None))
              and (name, functions.get(id(node))) not in MARKUP_ALLOWED):
            found.append((node.lineno, f"{name}:{node.lineno}: markup declared safe in code"))
    return [message for _, message in sorted(found)]


def test_no_module_of_the_report_writes_html_in_code():
    """The report stage and the rendering make HTML only through templates: no tag in an f-string, % or .format."""
    found = [f for path in HTML_MODULES for f in html_in_code(path.read_text(encoding="utf-8"), path.name)]
    assert not found, "\n".join(found)


def test_the_check_for_html_in_code_finds_what_it_looks_for():
    """The source check is not blind: each way of writing HTML in code is found; docstrings and regexes pass."""
    source = '''
"""A module: <b>doctests</b> may show markup."""
import re
from markupsafe import Markup
FIRST = re.compile(r"<h2\\b")
def block(name, n):
    """<p>also fine</p>"""
    a = f"<p>{name}</p>"
    b = "<li>%s</li>" % name
    c = "<td>{}</td>".format(n)
    d = "<ul>" + name
    return Markup(name)
'''
    found = html_in_code(source, "m.py")
    assert [f.split(": ")[1] for f in found] == ["HTML in an f-string", "HTML in % formatting", "HTML in .format",
                                                 "HTML in concatenation", "markup declared safe in code"], found


def test_the_templates_never_turn_escaping_off():
    """No template marks a value safe or turns autoescaping off: only rendered templates and nbconvert's body are
    markup, and the code alone decides that (see MARKUP_ALLOWED)."""
    names = sorted(p.name for p in TEMPLATES.iterdir())
    assert "page.html.j2" in names and "table.html.j2" in names and "cards.html.j2" in names
    for path in TEMPLATES.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup", text), path.name


def test_a_table_has_a_caption_and_scoped_headers_and_escapes_its_text():
    """A table says what it shows, scopes its header cells to columns (and, asked, its first column to rows),
    and a hostile column name or cell is text; a long table says how much is shown."""
    frame = pd.DataFrame({"segment": ["A", HOSTILE], HOSTILE: [1.5, None], "n": [3, 4]})
    html = table_html(frame, caption=f"Sizes {TEMPLATE}", row_headers=True)
    assert_inert(html, "table")
    assert f"<caption>Sizes {TEMPLATE}</caption>" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count('<th scope="col"') == 3 and html.count('<th scope="row">') == 2
    assert "<td>1.50</td>" in html and "<td></td>" in html  # floats formatted, missing values empty
    assert '<th scope="col" class="text">segment</th>' in html  # words left-aligned, numbers right
    assert '<td class="text">' not in html and "<td>3</td>" in html
    assert 'class="table-wrap"' in html and "Showing" not in html
    long = table_html(pd.DataFrame({"x": range(50)}), caption="Long", max_rows=10)
    assert long.count("<tr>") == 11 and "Showing 10 of 50 rows" in long


@pytest.fixture(scope="module")
def hostile_report(finished_run):
    """The demo run's report with hostile text in every place client text reaches: the title, segment names,
    traits, actions, rules, an outcome's column name, a feature's name, warnings, notes and the previous run."""
    params = load_params(artifacts.PARAMS.path(finished_run.folder))
    params.title = f"Acme {HOSTILE}"
    rr = load_run(params, finished_run.folder)
    names = {k: f"{HOSTILE} {k}" for k in rr.names}
    rr.kpis["segment"] = rr.kpis["segment"].replace({v: names[k] for k, v in rr.names.items()})
    rr.names = names
    rr.traits = {k: [{"sentence": f"{HOSTILE} trait"}] for k in names}
    rr.actions = {k: [f"{HOSTILE} action"] for k in names}
    rr.rules = {k: f"{HOSTILE} rule" for k in names}
    rr.rule_quality = pd.DataFrame({"segment": list(names), "precision": 0.9, "recall": 0.9})
    rr.outcomes = pd.DataFrame([{"segment": str(k), "segment_name": name, "outcome": f"churn {HOSTILE}",
                                 "measure": "rate", "value": 0.1 + 0.1 * i, "low": 0.05 + 0.1 * i,
                                 "high": 0.15 + 0.1 * i, "base": 0.3, "lift": (0.1 + 0.1 * i) / 0.3}
                                for i, (k, name) in enumerate(names.items())])
    rr.forecast = ForecastText(rr.forecast.summary, names, True)
    rr.features.dictionary.loc[rr.features.dictionary["used_for_clustering"].astype(str) == "True", "name"] = \
        f"spend {HOSTILE}"
    rr.features.notes = [f"{HOSTILE} note"]
    rr.warnings = [f"{HOSTILE} warning"]
    rr.previous = (rr.labels, names, rr.kpis, finished_run.folder.parent / f"{BREAKOUT} {TEMPLATE}")
    return rr


@pytest.mark.parametrize("block", ["title_block", "executive_summary", "segment_cards", "forecast_check", "changes",
                                   "trust", "method", "data_quality"])
def test_hostile_text_is_inert_in_every_block(hostile_report, block):
    """Script tags, an attribute breakout and template syntax in client text come out as the text itself."""
    html = getattr(hostile_report, block)().data
    assert_inert(html, block)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert TEMPLATE in html and SCRIPT not in html  # shown as written, never evaluated (7*7) nor run


def test_hostile_text_reaches_each_part_of_the_cards(hostile_report):
    """Each hostile field shows on the cards as text: the name, the trait, the rule, the action, the outcome."""
    html = hostile_report.segment_cards().data
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &#34;&gt;&lt;img src=x onerror=alert(1)&gt; {{7*7}}"
    for part in ("trait", "action", "rule", "0</h3>"):
        assert f"{escaped} {part}" in html, part
    # the outcome reads as its label (the name cleaned as feature names are: "(1)" is taken for a unit)
    from markupsafe import escape

    from seglib.features.dictionary import default_label

    label = default_label(f"churn {HOSTILE}")
    assert label.startswith("churn <script>") and str(escape(label)) in html and '<div class="rule">' in html
