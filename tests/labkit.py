"""Judge a lab's checks in process, as the grader does, without a kernel or a sandbox.

The lab tests (tests/test_labNN.py) prove that the hidden checks tell the solution from
each listed mistake. They execute answer cells (the solution's, or a sample's from
autograder/samples/<lab>/samples.toml) into a namespace and judge every test cell with the
grader's own `autograder.judge.judge_suite` against the lab's reference module
(autograder/reference/<topic>.py), asking the namespace each query as the kernel is asked
(`course.protocol.ask_namespace`: the payload through the codec), cell by cell:

    lab = Lab("02-convnets")
    ns = lab.namespace(lab.answers_of("correct"), prelude="from keras import layers")
    scores = lab.grade(ns)                  # {test cell grade_id: CellScore}
    lab.failed_hidden(scores)               # ["<cell>: <label>", ...]

`trained_model` checks need a trained model: pass `trained=` (a function of the namespace
and the query returning the accuracy) or they stay undecided (``passed=None``) and earn
nothing.
"""
from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any, Callable

import numpy as np

from autograder.judge import judge_suite, reference_module
from course import checks as C
from course import protocol

ROOT = Path(__file__).resolve().parents[1]
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
UNTRAINED = "no trained model in process (pass trained=)"


@dataclasses.dataclass(frozen=True)
class CellScore:
    """One test cell judged in process: its score, every check's outcome, the hidden count."""

    score: float
    points: float
    outcomes: tuple[C.Outcome, ...]
    hidden: int

    @property
    def hidden_outcomes(self) -> tuple[C.Outcome, ...]:
        return self.outcomes[len(self.outcomes) - self.hidden:] if self.hidden else ()


def strip_solution_markers(source: str) -> str:
    """An answer cell as the solution fills it in (the markers removed)."""
    return "".join(l for l in source.splitlines(True) if l.strip() not in MARKERS)


def released_stub(source: str) -> str:
    """An answer cell as released: the solution region replaced by NotImplementedError."""
    out, skip = [], False
    for line in source.splitlines(True):
        if line.strip() == MARKERS[0]:
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}raise NotImplementedError()\n")
            skip = True
        elif line.strip() == MARKERS[1]:
            skip = False
        elif not skip:
            out.append(line)
    return "".join(out)


class Lab:
    """A lab's source notebook, samples and reference, for in-process judging."""

    def __init__(self, lab: str, root: Path = ROOT):
        self.name = lab
        self.source = root / "solutions" / lab / f"{lab}.ipynb"
        nb = json.loads(self.source.read_text(encoding="utf-8"))
        self.cells = [dict(c, source="".join(c["source"])) for c in nb["cells"]]
        meta = [c.get("metadata", {}).get("nbgrader", {}) for c in self.cells]
        self.answers = {m["grade_id"]: c["source"] for c, m in zip(self.cells, meta)
                        if c["cell_type"] == "code" and m.get("solution")}
        self.tests = {m["grade_id"]: (c["source"], float(m.get("points", 0)))
                      for c, m in zip(self.cells, meta)
                      if c["cell_type"] == "code" and m.get("grade") and not m.get("solution")}
        manifest = root / "autograder" / "samples" / lab / "samples.toml"
        self.samples = tomllib.loads(manifest.read_text())["sample"] if manifest.is_file() else []
        self.reference = reference_module(lab)

    def sample(self, name: str) -> dict:
        return next(s for s in self.samples if s["name"] == name)

    def answers_of(self, sample: str | dict) -> dict[str, str]:
        """Every answer cell of a sample (by name or as its manifest entry), in notebook order."""
        s = self.sample(sample) if isinstance(sample, str) else sample
        make = strip_solution_markers if s.get("base", "solution") == "solution" else released_stub
        answers = {gid: make(src) for gid, src in self.answers.items()}
        answers.update(s.get("answers", {}))
        return answers

    def namespace(self, answers: dict[str, str], *, prelude: str = "",
                  skip: tuple[str, ...] = ()) -> dict:
        """Run `prelude` (the lab's imports and helper cells) then each answer cell not in
        `skip`, in notebook order. A cell that raises leaves what it defined so far, as in a
        notebook."""
        ns: dict[str, Any] = {"np": np, "__name__": f"lab_{self.name}"}
        if prelude:
            exec(compile(prelude, f"<{self.name} prelude>", "exec"), ns)
        for gid in self.answers:
            if gid in skip:
                continue
            try:
                with np.errstate(all="ignore"):
                    exec(compile(answers[gid], f"<{gid}>", "exec"), ns)
            except Exception:
                pass
        return ns

    def grade(self, ns: dict, *, scale: str = "tiny",
              trained: Callable[[dict, C.TrainedModel], float] | None = None,
              cells: tuple[str, ...] | None = None) -> dict[str, CellScore]:
        """Judge every test cell (or `cells`) against namespace `ns`, as the grader would."""
        def ask(query):
            if isinstance(query, C.TrainedModel):
                if trained is None:
                    raise protocol.AnswerError(UNTRAINED)
                return trained(ns, query)
            with np.errstate(all="ignore"):
                return protocol.ask_namespace(query, ns)

        result = {}
        for gid, (source, points) in self.tests.items():
            if cells is not None and gid not in cells:
                continue
            suite = C.declared(source)
            cell = judge_suite(suite, ask, self.reference, scale, points=points, grade_id=gid)
            outcomes = tuple(
                C.Outcome(line.label, None if line.detail.startswith(UNTRAINED) else line.passed,
                          line.detail, line.weight) for line in cell.checks)
            result[gid] = CellScore(cell.score, points, outcomes, suite.hidden)
        return result

    @staticmethod
    def failed_hidden(scores: dict[str, CellScore]) -> list[str]:
        """'<cell>: <label>' for every hidden check that did not pass."""
        return [f"{gid}: {o.label}" for gid, s in scores.items() for o in s.hidden_outcomes
                if not o.passed]

    def hidden_blocks_match_counts(self) -> list[str]:
        """Test cells whose `hidden=N` differs from the checks in their hidden block, or
        whose visible checks use `ref=` (which the student's notebook cannot decide)."""
        wrong = []
        for gid, (source, _) in self.tests.items():
            suite = C.declared(source)
            block = source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0] \
                if "### BEGIN HIDDEN TESTS" in source else ""
            if block.count("check(") != suite.hidden:
                wrong.append(f"{gid}: hidden={suite.hidden}, block has {block.count('check(')}")
            visible = suite.checks[:len(suite.checks) - suite.hidden]
            if any(c.ref is not None for c in visible):
                wrong.append(f"{gid}: a visible check compares with the reference")
            if any(c.ref is not None and not hasattr(self.reference, c.ref) for c in suite.checks):
                wrong.append(f"{gid}: a check names a reference function that does not exist")
        return wrong
