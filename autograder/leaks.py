"""Find answers in what students get: the scan behind `publish`, and the proof in its tests.

    found = secrets(course)                       # every answer this repository holds
    report = scan(files_under(Path("../dl-labs")), found)
    print(report)                                 # each hit: file, line, whose answer

A *secret*, for each lab:

- a line of a solution region of ``solutions/<lab>/<lab>.ipynb`` (the whole cell when a
  solution cell has no markers, as nbgrader clears it), of a hidden-test block or of a
  mark scheme;
- a line of the body of a function of ``autograder/reference/<topic>.py``;
- a line of a sample's answers or edited cells (``autograder/samples/<lab>/samples.toml``);
- the source of each input of a hidden check (``randint(0, 7, 25, seed=11)``) and the code
  of its ``run``;
- and everywhere, nbgrader's delimiters (``BEGIN SOLUTION``, ``END HIDDEN TESTS``, ...).

Lines are compared without whitespace (and without a leading ``#``), so re-indenting or
commenting out hides nothing; a secret of ``MIN_SUBSTRING`` characters or more, a hidden
input and a delimiter are found inside any longer line too. What the lab shows anyway (its source notebook outside those
regions, and nbgrader's stubs) is no secret, and neither is a trivial line, which says
nothing of an answer and occurs in any library: shorter than ``MIN_CHARS`` (``return out``),
an import, or at most five names with brackets, commas and colons (``for i in range(n):``,
``except Exception:``).

``autograder/edition/allowed.toml`` lists, each with its reason, the answer text the edition
may hold: idioms (a line of ordinary library code that is also an answer's line) and
overlaps (the lines of one answer in one file). The report lists them apart from the hits.
"""
from __future__ import annotations

import ast
import dataclasses
import io
import json
import re
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from autograder.config import REFERENCE, SAMPLES, Course

# nbgrader's region delimiters (without their "###" / "===" decorations).
REGIONS = (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
           ("BEGIN MARK SCHEME", "END MARK SCHEME"))
DELIMITERS = tuple(d for region in REGIONS for d in region)
_KINDS = {"END SOLUTION": "solution", "END HIDDEN TESTS": "hidden test",
          "END MARK SCHEME": "mark scheme"}
MIN_CHARS = 12        # whitespace-free characters: "returnout" (9), "importos" (8) say nothing
_TRIVIAL = re.compile(r"\s*((import|from)\s+[\w.]+(\s+import\s+.*)?|[\w\s(),:]*)\s*")
MIN_SUBSTRING = 24    # shorter secrets must be the whole line: "returnself.t" is in many
ALLOWED = Path(__file__).resolve().parent / "edition" / "allowed.toml"


@dataclasses.dataclass(frozen=True)
class Secret:
    """One line of answer text and where the repository holds it."""

    text: str
    kind: str             # solution, hidden test, mark scheme, hidden input, reference,
                          # sample or delimiter
    origin: str = ""      # e.g. "solutions/02-convnets/02-convnets.ipynb convnets-lenet5"
    answer: str = ""      # "<lab>/<grade_id>" of the answer cell it belongs to, if any
    lab: str | None = None

    @property
    def key(self) -> str:
        return _key(self.text)


@dataclasses.dataclass(frozen=True)
class Hit:
    file: str             # relative path; "x.whl!course/env.py" inside an archive
    line: str             # "12", or "cell 9 line 3" in a notebook
    text: str
    secret: Secret
    why: str = ""         # the reason it is allowed (allowed.toml), if it is

    def __str__(self) -> str:
        s = self.secret
        text = (f"{self.file}:{self.line}: {self.text.strip()[:100]!r} is a {s.kind} line "
                f"({s.origin})")
        return f"{text}; allowed: {self.why}" if self.why else text


@dataclasses.dataclass
class Report:
    files: int
    lines: int
    secrets: int
    hits: list[Hit]
    allowed: list[Hit]

    def __str__(self) -> str:
        head = (f"scanned {self.files} files, {self.lines} lines, for {self.secrets} lines of "
                f"answer text: {len(self.hits)} found, {len(self.allowed)} allowed "
                f"(autograder/edition/allowed.toml)")
        return "\n".join([head, *(f"  {h}" for h in self.hits)])


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text).lstrip("#")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def split_cell(cell: dict) -> tuple[list[str], list[tuple[str, str]]]:
    """(public lines, secret (kind, line) pairs) of a source notebook's cell, divided as
    release divides them."""
    lines = _source(cell).splitlines()
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if meta.get("solution") and not any(REGIONS[0][0] in line for line in lines):
        return [], [("solution", line) for line in lines]
    public, secret, end = [], [], None
    for line in lines:
        if end is None:
            end = next((e for b, e in REGIONS if b in line), None)
        if end is None:
            public.append(line)
        else:
            secret.append((_KINDS[end], line))
            if end in line:
                end = None
    return public, secret


def _hidden_inputs(block: str, where: str) -> Iterator[str]:
    """The source of every input of the checks in a hidden block (and each run's code)."""
    text = "[\n" + block + "\n]"
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise ValueError(f"{where}: the hidden-test block is not a list of check(...) "
                         f"calls: {exc}") from exc
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id == "call":
            inputs = node.args[1:]
        elif node.func.id == "run":
            code = node.args[0] if node.args else None
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                yield from code.value.splitlines()
            inputs = []
        else:
            continue
        for arg in [*inputs, *(kw.value for kw in node.keywords)]:
            yield ast.get_source_segment(text, arg) or ""


def _notebook_secrets(path: Path, rel: str, lab: str) -> tuple[list[Secret], list[str]]:
    """(secrets, public lines) of one source notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found, public = [], []
    for i, cell in enumerate(nb.get("cells", [])):
        shown, hidden = split_cell(cell)
        public += shown
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell-{i}"
        where, answer = f"{rel} {gid}", f"{lab}/{gid}"
        found += [Secret(line, kind, where, answer, lab) for kind, line in hidden]
        for block in re.findall(r"BEGIN HIDDEN TESTS[^\n]*\n(.*?)\n[^\n]*END HIDDEN TESTS",
                                _source(cell), re.S):
            found += [Secret(text, "hidden input", where, answer, lab)
                      for text in _hidden_inputs(block, where)]
    return found, public


def _reference_secrets(path: Path, lab: str | None) -> list[Secret]:
    """Every line of the body of every function (docstrings included) of a reference module."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            where = f"autograder/reference/{path.name} {node.name}()"
            answer = f"reference/{path.stem}.{node.name}"
            found += [Secret(line, "reference", where, answer, lab)
                      for line in lines[node.body[0].lineno - 1:node.end_lineno]]
    return found


def _sample_secrets(lab: str) -> list[Secret]:
    from autograder.samples import load, manifest

    if not manifest(lab).is_file():
        return []
    found = []
    for sample in load(lab):
        for gid, text in {**sample.answers, **sample.mutations.get("edit_cells", {})}.items():
            where = f"autograder/samples/{lab}/samples.toml {sample.name} {gid}"
            found += [Secret(line, "sample", where, f"{lab}/{gid}", lab)
                      for line in text.splitlines()]
    return found


def _stubs(course: Course) -> list[str]:
    """The lines nbgrader writes in place of an answer (they are in every released lab)."""
    from nbgrader.preprocessors import ClearSolutions

    from autograder.config import nbgrader_config

    clear = ClearSolutions(config=nbgrader_config(course))
    return [line for stub in [*clear.code_stub.values(), clear.text_stub]
            for line in stub.splitlines()]


def allowed(path: Path = ALLOWED) -> tuple[dict[str, str], list[dict]]:
    """({idiom key: why}, overlaps) from allowed.toml."""
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    for entry in [*data.get("idiom", []), *data.get("overlap", [])]:
        if not entry.get("why"):
            raise ValueError(f"{path}: every entry needs a why; got {entry}")
    return ({_key(e["line"]): e["why"] for e in data.get("idiom", [])},
            list(data.get("overlap", [])))


def trivial(text: str) -> bool:
    """Too common to tell anything: short, an import, or a few bare names (see above)."""
    return (len(_key(text)) < MIN_CHARS or bool(_TRIVIAL.fullmatch(text))
            and (text.lstrip().startswith(("import ", "from ")) or len(text.split()) <= 5))


def secrets(course: Course) -> list[Secret]:
    """Every secret of the repository, less what its labs show, idioms and trivial lines."""
    found = [Secret(d, "delimiter", "nbgrader's delimiter") for d in DELIMITERS]
    public: dict[str | None, list[str]] = {None: _stubs(course)}
    labs = course.labs()
    for lab in labs:
        path = course.source_notebook(lab)
        lab_secrets, lab_public = _notebook_secrets(path, str(path.relative_to(course.repo)), lab)
        found += lab_secrets + _sample_secrets(lab)
        public[lab] = lab_public + public[None]
    topics = {course.reference_for(lab): lab for lab in labs}
    for path in sorted(REFERENCE.glob("*.py")):
        found += _reference_secrets(path, topics.get(path))
    idioms, _ = allowed()
    shown = {lab: [_key(line) for line in lines] for lab, lines in public.items()}
    return [s for s in found if s.kind == "delimiter" or not (
        trivial(s.text) or s.key in idioms
        or any(s.key in line for line in shown.get(s.lab, shown[None])))]


class _Matcher:
    """Which secret a line holds: the whole line, or (long secrets) any part of it."""

    _PREFIX = 10   # long secrets are indexed by their first characters (<= every delimiter)

    def __init__(self, found: Iterable[Secret]):
        self.whole: dict[str, list[Secret]] = {}   # the same line may be in several answers
        self.by_prefix: dict[str, list[str]] = {}
        for s in found:
            self.whole.setdefault(s.key, []).append(s)
        for key, group in self.whole.items():
            if len(key) >= MIN_SUBSTRING or group[0].kind in ("delimiter", "hidden input"):
                self.by_prefix.setdefault(key[:self._PREFIX], []).append(key)

    def find(self, line: str) -> list[Secret]:
        """The secrets (all with the same text) that `line` holds; [] when none."""
        key = _key(line)
        if key in self.whole:
            return self.whole[key]
        for i in range(len(key) - self._PREFIX + 1):
            for candidate in self.by_prefix.get(key[i:i + self._PREFIX], ()):
                if key.startswith(candidate, i):
                    return self.whole[candidate]
        return []


def _strings(value, path: str) -> Iterator[tuple[str, str]]:
    """(where, string) for every string inside a JSON value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, v in sorted(value.items()):
            yield from _strings(v, f"{path}.{k}")


def _notebook_lines(name: str, nb: dict) -> Iterator[tuple[str, str, str]]:
    for i, cell in enumerate(nb.get("cells", [])):
        for j, line in enumerate(_source(cell).splitlines(), 1):
            yield name, f"cell {i} line {j}", line
        for where, s in _strings({k: v for k, v in cell.items() if k != "source"}, f"cell {i}"):
            yield from ((name, where, line) for line in s.splitlines())
    for where, s in _strings({k: v for k, v in nb.items() if k != "cells"}, "notebook"):
        yield from ((name, where, line) for line in s.splitlines())


def text_lines(name: str, data: bytes) -> Iterator[tuple[str, str, str]]:
    """(file, line, text) for every line of a file: a notebook by cell, an archive by member."""
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for member in sorted(zf.namelist()):
                yield from text_lines(f"{name}!{member}", zf.read(member))
        return
    text = data.decode("utf-8", errors="replace")
    if name.endswith(".ipynb"):
        try:
            nb = json.loads(text)
        except ValueError:
            nb = None
        if isinstance(nb, dict):
            yield from _notebook_lines(name, nb)
            return
    for j, line in enumerate(text.splitlines(), 1):
        yield name, str(j), line


def _overlap_reason(file: str, group: list[Secret], overlaps: list[dict]) -> tuple[Secret, str]:
    """(the secret, why) when allowed.toml lets one of `group` into `file`; else (first, "")."""
    path = file.split("!", 1)[-1]           # a wheel's member is judged as the file it is
    for s in group:
        for o in overlaps:
            if o["file"] == path and o["answer"] == s.answer:
                return s, o["why"]
    return group[0], ""


def scan(files: Iterable[tuple[str, bytes]], found: list[Secret]) -> Report:
    """Look for every secret in every line of `files` ((name, bytes) pairs)."""
    matcher = _Matcher(found)
    _, overlaps = allowed()
    report = Report(0, 0, len({s.key for s in found}), [], [])
    for name, data in files:
        report.files += 1
        for file, line, text in text_lines(name, data):
            report.lines += 1
            group = matcher.find(text)
            if group:
                secret, why = _overlap_reason(file, group, overlaps)
                (report.allowed if why else report.hits).append(Hit(file, line, text, secret, why))
    return report


def files_under(root: Path) -> Iterator[tuple[str, bytes]]:
    """(relative path, bytes) of every file under root, but a git directory's."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[0] != ".git":
            yield rel.as_posix(), path.read_bytes()
