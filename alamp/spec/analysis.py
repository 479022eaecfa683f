"""Whole-spec checking: parse every expression, resolve names in step order, fold constants.

The result is a :class:`Program`: the spec's expressions as normalised trees, in step order, each both as
written (for the readable emitted module) and with constant parts folded (for the fast compiled code). Every
problem found anywhere in the spec is collected before :class:`~alamp.spec.errors.SpecError` is raised.
"""

from __future__ import annotations

import ast
import copy
import math
from dataclasses import dataclass, field

import numpy as np
from pydantic import ValidationError

from alamp.schema.env_spec import EnvSpec
from alamp.spec.errors import SpecError
from alamp.spec.expr import (
    BUILTIN_CONSTANTS,
    MAX_EXPONENT,
    ParsedExpression,
    did_you_mean,
    free_names,
    has_random,
    parse_expression,
    short,
)
from alamp.spec.functions import elementwise_functions

__all__ = ["Step", "ActionProgram", "Program", "analyse", "coerce_spec"]

ACTION_NAME = "action"
"""Built-in name for the chosen action's index (an integer), unless the spec declares that name itself."""


@dataclass
class Step:
    """One expression in the program: ``target = tree`` (target empty for reward, conditions, observations)."""

    target: str
    label: str
    tree: ast.expr
    folded: ast.expr


@dataclass
class ActionProgram:
    name: str
    updates: list[Step]


@dataclass
class Program:
    """A checked spec, in step order (see :mod:`alamp.schema.env_spec` for the step semantics)."""

    spec: EnvSpec
    constants: dict[str, float]
    state_names: list[str]
    init: list[Step]
    draws: list[Step]
    actions: list[ActionProgram]
    action_targets: list[str]
    """Names assigned by at least one action, in order of first appearance."""
    constant_overrides: list[str]
    """Constants that some actions assign (the others keep the constant's value)."""
    updates: list[Step]
    clips: list[Step]
    reward: Step
    terminated: list[Step]
    observation: list[Step]
    builtins: set[str]
    """Built-in names the spec does not shadow (``pi``, ``inf``, ``action``)."""
    normalisations: list[str] = field(default_factory=list)


def coerce_spec(spec: object) -> EnvSpec:
    """Accept an :class:`EnvSpec`, a dict or a JSON string; pydantic errors become a :class:`SpecError`."""
    if isinstance(spec, EnvSpec):
        return spec
    try:
        if isinstance(spec, str | bytes):
            return EnvSpec.model_validate_json(spec)
        return EnvSpec.model_validate(spec)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "spec"
            problems.append(f"{where}: {item['msg']}")
        raise SpecError(problems) from None


# ----------------------------------------------------------------------------------------------------- folding


class _NumpyConstants(ast.NodeTransformer):
    """Rewrites a constant-only tree to numpy calls so that it evaluates exactly as the vectorised code would."""

    _NP = {f.name: f.numpy for f in elementwise_functions()}

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        name = node.func.id  # type: ignore[attr-defined]
        np_name = {"min": "minimum", "max": "maximum", "where": "where"}.get(name, self._NP.get(name, name))
        if name == "clip":
            return _call("_np.minimum", [_call("_np.maximum", node.args[:2]), node.args[2]])
        if name in ("min", "max"):
            result = node.args[0]
            for arg in node.args[1:]:
                result = _call(f"_np.{np_name}", [result, arg])
            return result
        return _call(f"_np.{np_name}", node.args)

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        if isinstance(node.value, bool):
            return node
        return ast.Call(ast.Attribute(ast.Name("_np", ast.Load()), "float64", ast.Load()), [node], [])


def _call(dotted: str, args: list[ast.expr]) -> ast.Call:
    parts = dotted.split(".")
    func: ast.expr = ast.Name(parts[0], ast.Load())
    for part in parts[1:]:
        func = ast.Attribute(func, part, ast.Load())
    return ast.Call(func, list(args), [])


def _deepcopy(tree: ast.expr) -> ast.expr:
    return copy.deepcopy(tree)


class _Folder:
    """Folds constant subtrees; refuses constant division by zero, huge exponents and non-real constant results."""

    def __init__(self, constants: dict[str, float], label: str, problems: list[str]) -> None:
        self.constants = constants
        self.label = label
        self.problems = problems

    def problem(self, node: ast.AST, message: str) -> None:
        self.problems.append(f"{self.label}: '{short(ast.unparse(node), 60)}' {message}")

    def evaluate(self, node: ast.expr) -> ast.expr:
        try:
            with np.errstate(all="raise"):
                tree = ast.Expression(ast.fix_missing_locations(_NumpyConstants().visit(_deepcopy(node))))
                # safe: the tree holds only whitelisted, constant-only nodes (see expr.py), and no builtins
                value = eval(compile(tree, "<fold>", "eval"), {"__builtins__": {}, "_np": np})
        except (ArithmeticError, FloatingPointError, ValueError, TypeError) as error:
            reason = str(error) or type(error).__name__
            self.problem(node, f"cannot be evaluated ({reason}); fix the constant values or the formula")
            return ast.Constant(0.0)
        if isinstance(value, bool | np.bool_):
            return ast.Constant(bool(value))
        if isinstance(value, complex) or np.iscomplexobj(value):
            self.problem(node, "is not a real number (e.g. a negative number to a fractional power)")
            return ast.Constant(0.0)
        number = float(value)
        if math.isnan(number):
            self.problem(node, "evaluates to nan (e.g. sqrt or log of a negative number); fix the formula")
            return ast.Constant(0.0)
        return ast.Constant(number)

    def fold(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Constant):
            return node
        if isinstance(node, ast.Name):
            if node.id in self.constants:
                return ast.Constant(self.constants[node.id])
            return node
        if isinstance(node, ast.BinOp):
            left, right = self.fold(node.left), self.fold(node.right)
            new = ast.BinOp(left, node.op, right)
            if isinstance(right, ast.Constant):
                if isinstance(node.op, ast.Pow) and abs(float(right.value)) > MAX_EXPONENT:
                    exponent = float(right.value)
                    limit = f"±{MAX_EXPONENT:g}"
                    self.problem(node, f"has exponent {exponent:g}; constant exponents must be within {limit}")
                    return ast.Constant(0.0)
                if isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod) and float(right.value) == 0.0:
                    self.problem(node, "divides by zero; fix the divisor")
                    return ast.Constant(0.0)
            if isinstance(left, ast.Constant) and isinstance(right, ast.Constant):
                return self.evaluate(new)
            return new
        if isinstance(node, ast.UnaryOp):
            operand = self.fold(node.operand)
            new = ast.UnaryOp(node.op, operand)
            return self.evaluate(new) if isinstance(operand, ast.Constant) else new
        if isinstance(node, ast.Compare):
            parts = [self.fold(node.left), *(self.fold(c) for c in node.comparators)]
            new = ast.Compare(parts[0], list(node.ops), parts[1:])
            return self.evaluate(new) if all(isinstance(p, ast.Constant) for p in parts) else new
        if isinstance(node, ast.BoolOp):
            values = [self.fold(v) for v in node.values]
            new = ast.BoolOp(node.op, values)
            return self.evaluate(new) if all(isinstance(v, ast.Constant) for v in values) else new
        if isinstance(node, ast.IfExp):
            test = self.fold(node.test)
            if isinstance(test, ast.Constant):
                return self.fold(node.body if test.value else node.orelse)
            return ast.IfExp(test, self.fold(node.body), self.fold(node.orelse))
        if isinstance(node, ast.Call):
            name = node.func.id  # type: ignore[attr-defined]
            args = [self.fold(a) for a in node.args]
            new = ast.Call(ast.Name(name, ast.Load()), args, [])
            if name == "where" and isinstance(args[0], ast.Constant):
                return args[1] if args[0].value else args[2]
            if name in ("uniform", "normal", "poisson", "bernoulli", "integers", "choice"):
                self._check_draw(new, name, args)
                return new
            return self.evaluate(new) if all(isinstance(a, ast.Constant) for a in args) else new
        raise AssertionError(f"unexpected node {type(node).__name__} after normalisation")

    def _check_draw(self, node: ast.Call, name: str, args: list[ast.expr]) -> None:
        value = [float(a.value) if isinstance(a, ast.Constant) else None for a in args]
        if name == "poisson" and value[0] is not None and not 0 <= value[0] < 1e9:
            self.problem(node, "needs a rate lam with 0 <= lam < 1e9")
        if name == "normal" and value[1] is not None and value[1] < 0:
            self.problem(node, "has a negative standard deviation; use normal(mean, std) with std >= 0")
        if name == "bernoulli" and value[0] is not None and not 0 <= value[0] <= 1:
            self.problem(node, "needs a probability p with 0 <= p <= 1")
        if name == "integers" and value[0] is not None and value[1] is not None and value[0] >= value[1]:
            self.problem(node, "needs low < high (integers(low, high) draws from low, ..., high - 1)")
        if name in ("uniform", "integers") and any(v is not None and math.isinf(v) for v in value):
            self.problem(node, "needs finite bounds")


# ---------------------------------------------------------------------------------------------------- analysis


class _Analyser:
    def __init__(self, spec: EnvSpec) -> None:
        self.spec = spec
        self.problems: list[str] = []
        self.normalisations: list[str] = []
        self.state_names = [s.name for s in spec.state]
        targets = {u.target for u in spec.updates} | {u.target for a in spec.actions for u in a.updates}
        self.declared = set(spec.constants) | set(self.state_names) | {d.name for d in spec.draws} | targets
        self.builtins = {name for name in (*BUILTIN_CONSTANTS, ACTION_NAME) if name not in self.declared}
        self.base_constants: dict[str, float] = {}
        for name, value in spec.constants.items():
            if not math.isfinite(value) and not math.isinf(value):
                self.problems.append(f"constants['{name}']: is nan; give it a real number")
            self.base_constants[name] = float(value)
        for name in self.builtins & set(BUILTIN_CONSTANTS):
            self.base_constants[name] = BUILTIN_CONSTANTS[name]
        # first place each name is assigned, for "assigned later" hints
        self.assigned_at: dict[str, str] = {}
        for i, draw in enumerate(spec.draws):
            self.assigned_at.setdefault(draw.name, f"draws[{i}]")
        for a, action in enumerate(spec.actions):
            for u, update in enumerate(action.updates):
                self.assigned_at.setdefault(update.target, f"actions[{a}] '{action.name}' updates[{u}]")
        for i, update in enumerate(spec.updates):
            self.assigned_at.setdefault(update.target, f"updates[{i}]")

    def parse(
        self,
        raw: object,
        *,
        label: str,
        display: str | None = None,
        targets: tuple[str, ...] = (),
        known: set[str],
        constants: dict[str, float],
        allow_random: bool = True,
    ) -> Step | None:
        """Parse, check names against ``known`` and fold against ``constants``."""
        before = len(self.problems)
        parsed: ParsedExpression | None = parse_expression(
            raw,
            label=label,
            declared=self.declared,
            problems=self.problems,
            normalisations=self.normalisations,
            targets=targets,
        )
        if parsed is None:
            return None
        if display is not None:
            parsed.label = f"{label} ({short(display)})"
        for name in sorted(free_names(parsed.tree) - known):
            self.problems.append(self._unknown(parsed.label, name, known))
        if not allow_random:
            if has_random(parsed.tree):
                self.problems.append(
                    f"{parsed.label}: draws random numbers; observations are computed from the state only "
                    "(put the draw in draws and store it in a state variable)"
                )
        if len(self.problems) > before:
            return None
        folded = _Folder(constants, parsed.label, self.problems).fold(parsed.tree)
        if len(self.problems) > before:
            return None
        return Step(targets[0] if targets else "", parsed.label, parsed.tree, folded)

    def _unknown(self, label: str, name: str, known: set[str]) -> str:
        message = f"{label}: unknown name '{name}'"
        if name in self.assigned_at:
            return (
                f"{message} here: it is only assigned in {self.assigned_at[name]}, which runs later or only for some "
                "actions; move that assignment before this one, or declare it as a constant or state variable"
            )
        shown = sorted(known)
        listing = ", ".join(shown[:40]) + (", ..." if len(shown) > 40 else "")
        return f"{message}{did_you_mean(name, known)}; known names: {listing}"

    def _check_target(self, target: str, label: str, *, allow_constant: bool) -> bool:
        if target in self.builtins or target in BUILTIN_CONSTANTS and target not in self.declared:
            self.problems.append(f"{label}: '{target}' is a built-in name; choose another name")
            return False
        if not allow_constant and target in self.spec.constants:
            self.problems.append(
                f"{label}: assigns to constant '{target}'; constants are fixed — use a new name for the computed "
                "value, or make it a state variable"
            )
            return False
        return True

    def run(self) -> Program:
        spec = self.spec
        constants = dict(self.base_constants)
        known = set(constants) | (self.builtins - {ACTION_NAME})

        # initial values: constants, built-ins and earlier state variables
        init: list[Step] = []
        init_known, init_constants = set(known), dict(constants)
        for i, var in enumerate(spec.state):
            step = self.parse(
                var.init,
                label=f"state[{i}] '{var.name}' init",
                targets=(var.name,),
                known=init_known,
                constants=init_constants,
            )
            if step is not None:
                step.target = var.name
                init.append(step)
                _bind(init_constants, var.name, step.folded)
            init_known.add(var.name)

        # observation: state, constants and built-ins (it is also computed at reset, without a step)
        observation: list[Step] = []
        obs_known = known | set(self.state_names)
        # The schema fills an empty observation with the state names; a spec built without validation
        # (model_copy / model_construct) may still carry [] here, and an empty observation is never meant.
        for i, expr in enumerate(spec.observation or list(self.state_names)):
            step = self.parse(
                expr, label=f"observation[{i}]", known=obs_known, constants=dict(constants), allow_random=False
            )
            if step is not None:
                observation.append(step)

        # the step: draws, actions, updates, clips, reward, termination
        known |= set(self.state_names)
        if ACTION_NAME in self.builtins:
            known.add(ACTION_NAME)
        draws: list[Step] = []
        for i, draw in enumerate(spec.draws):
            label = f"draws[{i}] '{draw.name}'"
            if draw.name in self.state_names or draw.name in spec.constants:
                self.problems.append(
                    f"{label}: '{draw.name}' is already a state variable or constant; give the draw its own name "
                    f"(e.g. {draw.name}_draw) and use it in updates"
                )
                continue
            step = self.parse(
                draw.expr,
                label=label,
                display=f"{draw.name} = {draw.expr}",
                targets=(draw.name,),
                known=known,
                constants=constants,
            )
            if step is not None:
                step.target = draw.name
                draws.append(step)
                _bind(constants, draw.name, step.folded)
            known.add(draw.name)

        actions, action_targets, overrides = self._actions(known, constants)

        updates: list[Step] = []
        for i, update in enumerate(spec.updates):
            display = f"{update.target} = {update.expr}"
            if not self._check_target(update.target, f"updates[{i}] ({short(display)})", allow_constant=False):
                continue
            step = self.parse(
                update.expr,
                label=f"updates[{i}]",
                display=display,
                targets=(update.target,),
                known=known,
                constants=constants,
            )
            if step is not None:
                step.target = update.target
                updates.append(step)
                _bind(constants, update.target, step.folded)
            known.add(update.target)

        clips: list[Step] = []
        for var in spec.state:
            if var.clip and (math.isfinite(var.low) or math.isfinite(var.high)):
                tree = ast.Call(
                    ast.Name("clip", ast.Load()),
                    [ast.Name(var.name, ast.Load()), ast.Constant(float(var.low)), ast.Constant(float(var.high))],
                    [],
                )
                folded = _Folder(constants, f"state '{var.name}' clip", self.problems).fold(tree)
                clips.append(Step(var.name, f"state '{var.name}' clip", tree, folded))
                _bind(constants, var.name, folded)

        reward = self.parse(spec.reward, label="reward", targets=("reward", "r"), known=known, constants=constants)
        terminated: list[Step] = []
        for i, expr in enumerate(spec.terminated):
            step = self.parse(
                expr,
                label=f"terminated[{i}]",
                targets=("terminated", "done", "terminal"),
                known=known,
                constants=constants,
            )
            if step is not None:
                terminated.append(step)

        if self.problems:
            raise SpecError(self.problems)
        assert reward is not None
        reward.target = ""
        for step in terminated:
            step.target = ""
        return Program(
            spec=spec,
            constants=dict(self.base_constants),
            state_names=self.state_names,
            init=init,
            draws=draws,
            actions=actions,
            action_targets=action_targets,
            constant_overrides=overrides,
            updates=updates,
            clips=clips,
            reward=reward,
            terminated=terminated,
            observation=observation,
            builtins=self.builtins,
            normalisations=self.normalisations,
        )

    def _actions(
        self, known: set[str], constants: dict[str, float]
    ) -> tuple[list[ActionProgram], list[str], list[str]]:
        spec = self.spec
        programs: list[ActionProgram] = []
        targets: list[str] = []
        assigned_by: dict[str, list[str]] = {}
        values: dict[str, list[ast.expr | None]] = {}
        for a, action in enumerate(spec.actions):
            action_known, action_constants = set(known), dict(constants)
            steps: list[Step] = []
            last: dict[str, ast.expr] = {}
            for u, update in enumerate(action.updates):
                head = f"actions[{a}] '{action.name}' updates[{u}]"
                display = f"{update.target} = {update.expr}"
                if not self._check_target(update.target, f"{head} ({short(display)})", allow_constant=True):
                    continue
                step = self.parse(
                    update.expr,
                    label=head,
                    display=display,
                    targets=(update.target,),
                    known=action_known,
                    constants=action_constants,
                )
                if step is None:
                    continue
                step.target = update.target
                steps.append(step)
                _bind(action_constants, update.target, step.folded)
                action_known.add(update.target)
                last[update.target] = step.folded
                if update.target not in targets:
                    targets.append(update.target)
                if action.name not in assigned_by.setdefault(update.target, []):
                    assigned_by[update.target].append(action.name)
            programs.append(ActionProgram(action.name, steps))
            for target in targets:
                values.setdefault(target, [None] * len(spec.actions))
            for target, value in last.items():
                values[target][a] = value
        overrides: list[str] = []
        has_default = set(self.state_names) | set(spec.constants) | {d.name for d in spec.draws}
        for target in targets:
            missing = [action.name for action in spec.actions if action.name not in assigned_by[target]]
            if missing and target not in has_default:
                self.problems.append(
                    f"actions: '{target}' is assigned by action(s) {', '.join(assigned_by[target])} but not by "
                    f"{', '.join(missing)}; every action must assign it (e.g. add '{target} = 0' to "
                    f"{missing[0]}'s updates), or declare '{target}' as a constant to give it a default"
                )
            if missing and target in spec.constants:
                overrides.append(target)
            known.add(target)
            # the merged value is a constant only when every action leaves the same constant behind
            per_action = [
                v if v is not None else (ast.Constant(constants[target]) if target in constants else None)
                for v in values.get(target, [])
            ]
            if per_action and all(isinstance(v, ast.Constant) for v in per_action) and len(
                {repr(v.value) for v in per_action}  # type: ignore[union-attr]
            ) == 1:
                constants[target] = per_action[0].value  # type: ignore[union-attr]
            else:
                constants.pop(target, None)
        return programs, targets, overrides


def _bind(constants: dict[str, float], name: str, folded: ast.expr) -> None:
    """After ``name = folded``: the name is a known constant for folding iff the value is a constant."""
    if isinstance(folded, ast.Constant):
        constants[name] = folded.value
    else:
        constants.pop(name, None)


def analyse(spec: object) -> Program:
    """Check a whole spec and return its program; raise :class:`SpecError` listing every problem."""
    return _Analyser(coerce_spec(spec)).run()
