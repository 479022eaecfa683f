"""alamp.artifact: a compiled program is saved with its structure, loads in a fresh process, and a program whose
structure differs is refused with a message naming the predictor and fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dspy
import pytest

from alamp.artifact import (
    ProgramStructureError,
    load_program,
    meta_path_for,
    read_metadata,
    save_program,
    structure_fingerprint,
)
from alamp.optimizers import PerAgentLabeledFewShot
from alamp.optimizers.demos import _symbol_item, gold_record
from alamp.program import AGENT_NAMES, ALAMP
from alamp.schema import Constraint, EnvSpec, MDPModel, Objective, Parameter, SARSpec, Variable
from alamp.signatures import ObjectiveSignature, ParameterSignature
from alamp.tasks import load_tasks

ROOT = Path(__file__).resolve().parents[1]


def gold_example(task_id: str, gain: float) -> dspy.Example:
    """A whole-task example as alamp.tasks.task_to_example makes it (description + every agent's gold output)."""
    sar = SARSpec.model_validate(
        {"observations": ["x"], "actions": [{"name": "down", "effect": "u = -1"}, {"name": "up", "effect": "u = 1"}],
         "reward": "-abs(x)"}
    )
    return dspy.Example(
        description=f"Keep x near zero by pushing it up or down; each push moves x by {gain}.",
        task_id=task_id,
        parameters=[Parameter(name="gain", value=gain)],
        objectives=[Objective(name="stay_near_zero", sense="min", expression="abs(x)")],
        variables=[Variable(name="x", role="state", low=-10, high=10, initial="0"),
                   Variable(name="u", role="action", domain="integer", low=-1, high=1)],
        constraints=[Constraint(expression="abs(x) > 10", kind="termination")],
        mdp=MDPModel(states=["x"], actions=["down", "up"], transitions=["x_next = x + gain * u"], reward="-abs(x)"),
        sar=sar,
        env_spec=EnvSpec.model_validate(
            {"constants": {"gain": gain}, "state": [{"name": "x", "low": -10, "high": 10}],
             "actions": [{"name": "down", "updates": [{"target": "u", "expr": "-1"}]},
                         {"name": "up", "updates": [{"target": "u", "expr": "1"}]}],
             "updates": [{"target": "x", "expr": "x + gain * u"}], "reward": "-abs(x)",
             "terminated": ["abs(x) > 10"]}
        ),
    ).with_inputs("description")


class Tiny(dspy.Module):
    """Two agents over the real signatures: the smallest program with the waterfall shape."""

    def __init__(self) -> None:
        super().__init__()
        self.parameter = dspy.Predict(ParameterSignature)
        self.objective = dspy.ChainOfThought(ObjectiveSignature)

    def forward(self, description: str) -> dspy.Prediction:
        parameters = self.parameter(description=description).parameters
        return dspy.Prediction(
            parameters=parameters, objectives=self.objective(description=description, parameters=parameters).objectives
        )


class ObjectiveWithConstraintsSignature(dspy.Signature):
    """State the objectives."""

    description: str = dspy.InputField()
    parameters: list[Parameter] = dspy.InputField()
    constraints: list[Constraint] = dspy.InputField()
    objectives: list[Objective] = dspy.OutputField()


class RenamedSignature(dspy.Signature):
    """List the constants (same field count as ParameterSignature, other names: DSPy would load it by position)."""

    text: str = dspy.InputField()
    constants: list[Parameter] = dspy.OutputField()


class TinyWithExtraField(Tiny):
    def __init__(self) -> None:
        super().__init__()
        self.objective = dspy.ChainOfThought(ObjectiveWithConstraintsSignature)


class TinyRenamed(Tiny):
    def __init__(self) -> None:
        super().__init__()
        self.parameter = dspy.Predict(RenamedSignature)


def test_alamp_compiled_with_labeled_demos_loads_in_a_fresh_process(tmp_path: Path) -> None:
    train = [gold_example("a", 1.0), gold_example("b", 2.0)]
    compiled = PerAgentLabeledFewShot(k=1).compile(ALAMP(), trainset=train)
    compiled.sar.signature = compiled.sar.signature.with_instructions("Name the observations first. (compiled)")
    program_path, meta_path = save_program(compiled, path=tmp_path / "alamp_labeled.json", metadata={"note": "t"})

    meta = read_metadata(program_path)
    assert meta_path == meta_path_for(program_path) and meta["note"] == "t"
    assert meta["program_class"] == "alamp.program:ALAMP"
    assert set(meta["structure"]) == set(AGENT_NAMES)
    assert meta["structure"]["sar"]["outputs"] == {"sar": "alamp.schema.agents.SARSpec"}
    assert meta["dspy_version"] == dspy.__version__
    # Every agent whose fields the gold supplies gets a demo; Coding (no gold code) and Repair do not, nor Symbol
    # value when no train task's gold parameter records a symbol its text's formulas read.
    with_symbol = {"symbol_value"} if any(_symbol_item(gold_record(t)) for t in load_tasks("train")) else set()
    expected = set(AGENT_NAMES) - {"coding", "repair", "symbol_value"} | with_symbol
    assert {n for n, k in meta["demos_per_predictor"].items() if k} == expected

    script = (
        "import json, sys, alamp\n"
        "p = alamp.load_program(sys.argv[1])\n"
        "print(json.dumps({n: {'instructions': q.signature.instructions, 'demos': [dict(d) for d in q.demos]}"
        " for n, q in p.named_predictors()}, default=str))\n"
    )
    env = {**os.environ, "WANDB_MODE": "disabled"}
    out = subprocess.run([sys.executable, "-c", script, str(program_path)], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded["sar"]["instructions"] == "Name the observations first. (compiled)"
    assert loaded["parameter"]["instructions"] == ALAMP().parameter.signature.instructions
    saved_state = json.loads(program_path.read_text())
    for name, predictor in compiled.named_predictors():
        assert len(loaded[name]["demos"]) == len(predictor.demos)
        assert loaded[name]["demos"] == saved_state[name]["demos"]
    env_demo = loaded["env"]["demos"][0]
    assert env_demo["feedback"] == "" and env_demo["updates"][0]["target"] == "x"
    assert env_demo["constants"][0]["name"] == "gain"


def test_structure_mismatch_is_refused_naming_predictor_and_fields(tmp_path: Path) -> None:
    program_path, _ = save_program(Tiny(), path=tmp_path / "tiny.json")
    assert isinstance(load_program(program_path, program=Tiny()), Tiny)

    with pytest.raises(ProgramStructureError) as extra:
        load_program(program_path, program=TinyWithExtraField())
    message = str(extra.value)
    assert "'objective.predict' inputs" in message and "new fields ['constraints']" in message

    # Same field count, other names: DSPy alone would load this by position without a word.
    renamed = r"'parameter' inputs: saved \['description'\] vs current \['text'\]"
    with pytest.raises(ProgramStructureError, match=renamed):
        load_program(program_path, program=TinyRenamed())


def test_type_change_and_missing_metadata_are_refused(tmp_path: Path) -> None:
    program_path, meta_path = save_program(Tiny(), path=tmp_path / "tiny.json")
    meta = json.loads(meta_path.read_text())
    meta["structure"]["parameter"]["outputs"]["parameters"] = "list[alamp.schema.agents.Variable]"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ProgramStructureError, match="output field 'parameters': saved type list"):
        load_program(program_path, program=Tiny())

    meta_path.unlink()
    with pytest.raises(FileNotFoundError, match="needs its metadata"):
        load_program(program_path, program=Tiny())
    assert isinstance(load_program(program_path, program=Tiny(), check_structure=False), Tiny)
    with pytest.raises(FileNotFoundError, match="alamp.compile"):
        load_program(tmp_path / "missing.json")


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    save_program(Tiny(), path=tmp_path / "tiny.json")
    save_program(Tiny(), path=tmp_path / "tiny.json")  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.json", "tiny.meta.json"]
    with pytest.raises(ValueError, match="exactly one of"):
        save_program(Tiny())
    with pytest.raises(ValueError, match="must end in .json"):
        save_program(Tiny(), path=tmp_path / "tiny.pkl")


def test_fingerprint_lists_fields_in_order_with_types() -> None:
    fingerprint = structure_fingerprint(Tiny())
    assert fingerprint["objective.predict"]["inputs"] == {
        "description": "str",
        "parameters": "list[alamp.schema.agents.Parameter]",
    }
    assert list(fingerprint["objective.predict"]["outputs"]) == ["reasoning", "objectives"]


def test_metadata_cannot_name_classes_outside_alamp(tmp_path: Path) -> None:
    program_path, meta_path = save_program(Tiny(), path=tmp_path / "tiny.json")
    meta = json.loads(meta_path.read_text())
    assert meta["program_class"].endswith(":Tiny")  # the test module: not importable by name in production
    meta["program_init"] = {"args": {"__class__": "subprocess:run", "args": ["true"]}}
    meta["program_class"] = "alamp.program:ALAMP"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ProgramStructureError, match="not one alamp loads"):
        load_program(program_path)
