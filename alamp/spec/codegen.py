"""Code generation: a checked :class:`~alamp.spec.analysis.Program` as Python source.

Four targets, all built by rewriting the normalised trees and printing them with :func:`ast.unparse`:

- ``vector``: numpy over a batch (``where``/``logical_and`` element-wise, draws of size ``n``); the batched env.
- ``scalar``: plain Python floats and :mod:`math` (5-10x faster than numpy for one environment); the single env
  and small batches. Python raises on division by zero or domain errors, and then the step is redone by the
  ``vector`` code, whose numpy semantics give inf/nan that the env then contains.
- ``numba``: one env's step on floats inside a loop over the batch, compiled with ``numba.njit`` by
  :mod:`alamp.spec.numba_backend` (optional; autoreset and numerical-error containment happen in the loop too).
- ``emit``: readable numpy-on-scalars code for the standalone module written by :func:`alamp.spec.emit_python`.

Generated code is safe to ``compile``/``exec``: every node comes from the whitelist of :mod:`alamp.spec.expr`,
names are the spec's own identifiers (never starting with ``_``) or this module's ``_``-prefixed helpers, and
the namespace has no builtins.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

import numpy as np

from alamp.spec.analysis import ACTION_NAME, Program, Step
from alamp.spec.expr import is_boolean
from alamp.spec.functions import elementwise_functions, scalar_helpers

__all__ = ["vector_source", "scalar_source", "numba_source", "vector_namespace", "scalar_namespace", "EmitWriter"]


def _name(identifier: str) -> ast.Name:
    return ast.Name(identifier, ast.Load())


def _call(dotted: str, args: list[ast.expr]) -> ast.Call:
    parts = dotted.split(".")
    func: ast.expr = _name(parts[0])
    for part in parts[1:]:
        func = ast.Attribute(func, part, ast.Load())
    return ast.Call(func, list(args), [])


def _constant(value: object) -> ast.expr:
    """A literal that prints correctly: negative numbers as unary minus (``ast.unparse`` would drop the parens)."""
    if isinstance(value, bool):
        return ast.Constant(value)
    number = float(value)  # type: ignore[arg-type]
    if number < 0 or (number == 0 and math.copysign(1.0, number) < 0):
        return ast.UnaryOp(ast.USub(), ast.Constant(-number))
    return ast.Constant(number)


def _unparse(node: ast.expr) -> str:
    return ast.unparse(ast.fix_missing_locations(node))


class _Rewriter:
    """Base rewriter: ``resolve`` maps a spec name to the name (or expression) used in the generated code."""

    def __init__(self, resolve: Callable[[str], ast.expr]) -> None:
        self.resolve = resolve
        self.temps = 0

    def __call__(self, node: ast.expr) -> ast.expr:
        return getattr(self, "r_" + type(node).__name__)(node)

    def r_Constant(self, node: ast.Constant) -> ast.expr:
        return _constant(node.value)

    def r_Name(self, node: ast.Name) -> ast.expr:
        return self.resolve(node.id)


_UFUNCS = {
    ast.Add: "add",
    ast.Sub: "subtract",
    ast.Mult: "multiply",
    ast.Div: "true_divide",
    ast.FloorDiv: "floor_divide",
    ast.Mod: "remainder",
    ast.Pow: "power",
}


class _VectorRewriter(_Rewriter):
    _UNARY = {f.name: f.numpy for f in elementwise_functions()}

    def _number(self, original: ast.expr) -> ast.expr:
        """numpy refuses ``-`` on bool arrays; arithmetic on a condition converts it to 0.0/1.0 first."""
        if isinstance(original, ast.Constant):
            return _constant(float(original.value))  # True - (x > 1) would be a bool subtract in numpy
        rewritten = self(original)
        if is_boolean(original):
            return ast.Call(ast.Attribute(rewritten, "astype", ast.Load()), [_name("_f64")], [])
        return rewritten

    def value(self, node: ast.expr) -> ast.expr:
        """An expression whose result is stored: conditions are stored as 0.0/1.0 so names never hold bools."""
        return self._number(node) if is_boolean(node) and not isinstance(node, ast.Constant) else self(node)

    def r_BinOp(self, node: ast.BinOp) -> ast.expr:
        if isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant) and node.right.value == 2.0:
            return _call("_np.square", [self._number(node.left)])  # what numpy's power does for 2, minus a check
        return ast.BinOp(self._number(node.left), node.op, self._number(node.right))

    def into(self, node: ast.expr, out: str) -> ast.expr | None:
        """The top operation of ``node`` written straight into ``out`` (saves a copy), or None if it cannot be."""
        rewritten = self(node)
        target = ast.keyword("out", ast.parse(out, mode="eval").body)
        if isinstance(node, ast.BinOp) and isinstance(rewritten, ast.BinOp):
            ufunc = _UFUNCS.get(type(node.op))
            if ufunc is not None:
                return ast.Call(_call(f"_np.{ufunc}", []).func, [rewritten.left, rewritten.right], [target])
        in_place = ("_np.minimum", "_np.maximum", "_np.square")
        if isinstance(rewritten, ast.Call) and ast.unparse(rewritten.func) in in_place and not is_boolean(node):
            return ast.Call(rewritten.func, rewritten.args, [target])
        return None

    def r_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        if isinstance(node.op, ast.Not):
            return _call("_np.logical_not", [self(node.operand)])
        return ast.UnaryOp(node.op, self._number(node.operand))

    def _temp(self, node: ast.expr) -> tuple[ast.expr, ast.expr]:
        """(first use, later uses) of a value needed twice: simple ones are repeated, others bound once."""
        rewritten = self(node)
        if isinstance(node, ast.Name | ast.Constant):
            return rewritten, rewritten
        self.temps += 1
        temp = f"_t{self.temps}"
        return ast.NamedExpr(ast.Name(temp, ast.Store()), rewritten), _name(temp)

    def r_Compare(self, node: ast.Compare) -> ast.expr:
        if len(node.ops) == 1:
            return ast.Compare(self(node.left), node.ops, [self(node.comparators[0])])
        parts: list[ast.expr] = []
        left = self(node.left)
        for i, (op, right) in enumerate(zip(node.ops, node.comparators, strict=True)):
            last = i == len(node.ops) - 1
            first_use, later = (self(right), None) if last else self._temp(right)
            parts.append(ast.Compare(left, [op], [first_use]))
            left = later  # type: ignore[assignment]
        return self._reduce("_np.logical_and", parts)

    @staticmethod
    def _reduce(func: str, parts: list[ast.expr]) -> ast.expr:
        result = parts[0]
        for part in parts[1:]:
            result = _call(func, [result, part])
        return result

    def r_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        func = "_np.logical_and" if isinstance(node.op, ast.And) else "_np.logical_or"
        return self._reduce(func, [self(v) for v in node.values])

    def r_IfExp(self, node: ast.IfExp) -> ast.expr:
        return _call("_np.where", [self(node.test), self(node.body), self(node.orelse)])

    def r_Call(self, node: ast.Call) -> ast.expr:
        name = node.func.id  # type: ignore[attr-defined]
        # numeric functions get numbers: numpy computes sqrt of a bool array in float16, and refuses sign of one
        args = [self(a) if name == "where" and i == 0 else self._number(a) for i, a in enumerate(node.args)]
        if name in self._UNARY:
            return _call(f"_np.{self._UNARY[name]}", [self._number(node.args[0])])
        if name in ("min", "max"):
            return self._reduce("_np.minimum" if name == "min" else "_np.maximum", args)
        if name == "clip":
            return _call("_np.minimum", [_call("_np.maximum", args[:2]), args[2]])
        if name == "where":
            return _call("_np.where", args)
        if name == "choice":
            return _call("_draw_choice", [_name("_rng"), _name("_n"), ast.Tuple(args, ast.Load())])
        return _call(f"_draw_{name}", [_name("_rng"), _name("_n"), *args])


class _ScalarRewriter(_Rewriter):
    """Python floats and :mod:`math`; exceptions (ZeroDivisionError, ValueError, ...) make the env redo the step."""

    def r_BinOp(self, node: ast.BinOp) -> ast.expr:
        left, right = self(node.left), self(node.right)
        if isinstance(node.op, ast.Pow):
            exponent = node.right
            if not (isinstance(exponent, ast.Constant) and float(exponent.value).is_integer()):
                return _call("_pow", [left, right])  # a negative base would give a complex number
        return ast.BinOp(left, node.op, right)

    def r_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        return ast.UnaryOp(node.op, self(node.operand))

    def r_Compare(self, node: ast.Compare) -> ast.expr:
        return ast.Compare(self(node.left), node.ops, [self(c) for c in node.comparators])

    def r_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        values = [
            self(v) if is_boolean(v) else ast.Compare(self(v), [ast.NotEq()], [ast.Constant(0.0)])
            for v in node.values
        ]
        return ast.BoolOp(node.op, values)

    def r_IfExp(self, node: ast.IfExp) -> ast.expr:
        return ast.IfExp(self(node.test), self(node.body), self(node.orelse))

    def r_Call(self, node: ast.Call) -> ast.expr:
        name = node.func.id  # type: ignore[attr-defined]
        args = [self(a) for a in node.args]
        if name == "where":
            return ast.IfExp(args[0], args[1], args[2])
        if name == "choice":
            return _call("_s_choice", [_name("_rng"), ast.Tuple(args, ast.Load())])
        if name in ("uniform", "normal", "poisson", "bernoulli", "integers"):
            return _call(f"_s_{name}", [_name("_rng"), *args])
        return _call(f"_{name}", args)


class _NumbaRewriter(_ScalarRewriter):
    """Floats for ``numba.njit``: numpy semantics (inf/nan, no exceptions), conditions stored as 0.0/1.0.

    numba refuses ``float(bool)`` and cannot give one name two types, so every condition used as a number
    becomes ``1.0 if c else 0.0``; functions map to ones that return floats for nan/inf (``np.floor``, not
    ``math.floor``, which would need an integer); draws call numpy's own algorithms on the env's bit generator.
    """

    _MATH = {f.name: f.numba for f in elementwise_functions()}

    def number(self, node: ast.expr) -> ast.expr:
        """``node`` as a number (a condition becomes ``1.0``/``0.0``)."""
        rewritten = self(node)
        if is_boolean(node):
            return ast.IfExp(rewritten, ast.Constant(1.0), ast.Constant(0.0))
        return rewritten

    def r_Constant(self, node: ast.Constant) -> ast.expr:
        return ast.Constant(node.value) if isinstance(node.value, bool) else _constant(node.value)

    def r_BinOp(self, node: ast.BinOp) -> ast.expr:
        left, right = self.number(node.left), self.number(node.right)
        if isinstance(node.op, ast.Pow):
            if isinstance(node.right, ast.Constant) and float(node.right.value) == 2.0:
                return _call("_np.square", [left])  # as the numpy code computes it
            return _call("_np.power", [_call("_float", [left]), _call("_float", [right])])  # nan, never complex
        return ast.BinOp(left, node.op, right)

    def r_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        if isinstance(node.op, ast.Not):
            return ast.UnaryOp(node.op, self(node.operand))
        return ast.UnaryOp(node.op, self.number(node.operand))

    def r_IfExp(self, node: ast.IfExp) -> ast.expr:
        if is_boolean(node):
            return ast.IfExp(self(node.test), self(node.body), self(node.orelse))
        return ast.IfExp(self(node.test), self.number(node.body), self.number(node.orelse))

    def r_Call(self, node: ast.Call) -> ast.expr:
        name = node.func.id  # type: ignore[attr-defined]
        if name == "where":
            test, body, orelse = node.args
            return ast.IfExp(self(test), self.number(body), self.number(orelse))
        args = [self.number(a) for a in node.args]
        if name in self._MATH:
            return _call(self._MATH[name], [_call("_float", args)])
        if name in ("min", "max"):
            return _VectorRewriter._reduce("_np.minimum" if name == "min" else "_np.maximum", args)
        if name == "clip":
            return _call("_np.minimum", [_call("_np.maximum", args[:2]), args[2]])
        uniform = _call("_next_double", [_name("_bg")])
        if name == "uniform":
            return ast.BinOp(args[0], ast.Add(), ast.BinOp(ast.BinOp(args[1], ast.Sub(), args[0]), ast.Mult(), uniform))
        if name == "integers":
            span = ast.BinOp(ast.BinOp(args[1], ast.Sub(), args[0]), ast.Mult(), uniform)
            return _call("_np.floor", [ast.BinOp(args[0], ast.Add(), span)])
        if name == "bernoulli":
            return ast.IfExp(ast.Compare(uniform, [ast.Lt()], [args[0]]), ast.Constant(1.0), ast.Constant(0.0))
        if name == "choice":
            index = _call("_int", [ast.BinOp(ast.Constant(float(len(args))), ast.Mult(), uniform)])
            floats = ast.Tuple([_call("_float", [a]) for a in args], ast.Load())
            return ast.Subscript(floats, index, ast.Load())
        if name == "normal":
            normal = _call("_standard_normal", [_name("_bg")])
            return ast.BinOp(args[0], ast.Add(), ast.BinOp(args[1], ast.Mult(), normal))
        return _call(f"_draw_{name}", [_name("_bg"), *args])  # poisson


class _EmitRewriter(_Rewriter):
    """Readable code for the standalone module: numpy functions on scalars, ``self.np_random`` draws."""

    def r_Constant(self, node: ast.Constant) -> ast.expr:
        if isinstance(node.value, float) and math.isinf(node.value):
            inf = _call("np.inf", [])
            inf = inf.func  # np.inf as an attribute, not a call
            return ast.UnaryOp(ast.USub(), inf) if node.value < 0 else inf
        return _constant(node.value)

    def r_BinOp(self, node: ast.BinOp) -> ast.expr:
        return ast.BinOp(self(node.left), node.op, self(node.right))

    def r_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        return ast.UnaryOp(node.op, self(node.operand))

    def r_Compare(self, node: ast.Compare) -> ast.expr:
        return ast.Compare(self(node.left), node.ops, [self(c) for c in node.comparators])

    def r_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        return ast.BoolOp(node.op, [self(v) for v in node.values])

    def r_IfExp(self, node: ast.IfExp) -> ast.expr:
        return ast.IfExp(self(node.test), self(node.body), self(node.orelse))

    def r_Call(self, node: ast.Call) -> ast.expr:
        name = node.func.id  # type: ignore[attr-defined]
        args = [self(a) for a in node.args]
        rng = "self.np_random"
        if name == "where":
            return ast.IfExp(args[0], args[1], args[2])
        if name in ("min", "max"):
            return _VectorRewriter._reduce("np.minimum" if name == "min" else "np.maximum", args)
        if name in ("uniform", "normal", "poisson"):
            return _call(f"{rng}.{name}", args)
        if name == "bernoulli":
            return _call("float", [ast.Compare(_call(f"{rng}.random", []), [ast.Lt()], args)])
        # integers and choice scale one ``random()`` like the compiled code (``_s_integers``, ``_s_choice``), so
        # env.py draws the very numbers the compiled environment draws for the same seed (Generator.integers and
        # Generator.choice would draw the same distribution from other bits).
        if name == "integers":
            low, high = (ast.Constant(0), args[0]) if len(args) == 1 else (args[0], args[1])
            width = ast.BinOp(high, ast.Sub(), low)
            draw = ast.BinOp(low, ast.Add(), ast.BinOp(width, ast.Mult(), _call(f"{rng}.random", [])))
            return _call("float", [_call("np.floor", [draw])])
        if name == "choice":
            index = _call("int", [ast.BinOp(ast.Constant(len(args)), ast.Mult(), _call(f"{rng}.random", []))])
            return _call("float", [ast.Subscript(ast.Tuple(args, ast.Load()), index, ast.Load())])
        return _call(f"np.{name}", args)


# ------------------------------------------------------------------------------------------------ vector code


def _constant_uniform(tree: ast.expr) -> bool:
    return (
        isinstance(tree, ast.Call)
        and tree.func.id == "uniform"  # type: ignore[attr-defined]
        and all(isinstance(a, ast.Constant) for a in tree.args)
        and float(tree.args[0].value) < float(tree.args[1].value)  # type: ignore[attr-defined]
    )


def _default_observation(program: Program) -> bool:
    trees = [step.tree for step in program.observation]
    return len(trees) == len(program.state_names) and all(
        isinstance(t, ast.Name) and t.id == name for t, name in zip(trees, program.state_names, strict=True)
    )


def vector_source(program: Program) -> tuple[str, dict[str, np.ndarray]]:
    """Source of ``_vstep``, ``_vinit`` and ``_vobs`` for a batch, plus the lookup tables it refers to.

    ``_vstep(_S, _a, _rng, _n, _out)`` reads the state rows of ``_S``, writes the next state into the rows of
    ``_out`` and the reward into its extra last row (one buffer, so one sum checks everything for nan/inf),
    and returns the terminated flags.

    Returns:
        (source, tables): ``tables`` maps ``_T<i>`` names to arrays of per-action constants.
    """
    tables: dict[str, np.ndarray] = {}
    lines: list[str] = []
    def resolve(name: str) -> ast.expr:
        return _name("_a") if name == ACTION_NAME and name in program.builtins else _name(name)

    plain = _VectorRewriter(resolve)

    def emit(target: str, tree: ast.expr, rewriter: _VectorRewriter = plain, indent: str = "    ") -> None:
        lines.append(f"{indent}{target} = {_unparse(rewriter.value(tree))}")

    # step
    lines.append("def _vstep(_S, _a, _rng, _n, _out):")
    for i, name in enumerate(program.state_names):
        lines.append(f"    {name} = _S[{i}]")
    for step in program.draws:
        emit(step.target, step.folded)
    if len(program.actions) == 1:
        for step in program.actions[0].updates:
            emit(step.target, step.folded)
    elif program.action_targets:
        merged: dict[str, list[ast.expr]] = {t: [] for t in program.action_targets}
        for a, action in enumerate(program.actions):
            renamed: dict[str, str] = {}
            rewriter = _VectorRewriter(
                lambda name, renamed=renamed: _name(renamed[name]) if name in renamed else resolve(name)
            )
            last: dict[str, ast.expr] = {}
            for step in action.updates:
                if isinstance(step.folded, ast.Constant):
                    last[step.target] = step.folded
                    renamed.pop(step.target, None)
                    continue
                local = f"_a{a}_{step.target}"
                emit(local, step.folded, rewriter)
                renamed[step.target] = local
                last[step.target] = _name(local)
            for target in program.action_targets:
                if target in last:
                    merged[target].append(last[target])
                elif target in program.constants:
                    merged[target].append(ast.Constant(program.constants[target]))
                else:
                    merged[target].append(_name(target))
        for target, choices in merged.items():
            if all(isinstance(c, ast.Constant) for c in choices):
                table = f"_T{len(tables)}"
                tables[table] = np.array([float(c.value) for c in choices])  # type: ignore[attr-defined]
                lines.append(f"    {target} = {table}[_a]")
            else:
                printed = ", ".join(
                    _unparse(c if isinstance(c, ast.Name) else _constant(c.value))  # type: ignore[attr-defined]
                    for c in choices
                )
                lines.append(f"    {target} = _choose(_a, ({printed},))")
    tail = [*program.updates, *program.clips]
    last = {step.target: i for i, step in enumerate(tail)}
    written: set[str] = set()
    row = {name: i for i, name in enumerate(program.state_names)}
    for i, step in enumerate(tail):
        direct = None
        if step.target in row and last[step.target] == i and not isinstance(step.folded, ast.Constant):
            direct = plain.into(step.folded, f"_out[{row[step.target]}]")
        if direct is not None:
            lines.append(f"    {step.target} = {_unparse(direct)}")
            written.add(step.target)
        else:
            emit(step.target, step.folded)
    for i, name in enumerate(program.state_names):
        if name not in written:
            lines.append(f"    _out[{i}] = {name}")
    reward = program.reward.folded
    reward_row = len(program.state_names)
    if isinstance(reward, ast.Constant):
        lines.append(f"    _out[{reward_row}] = {_unparse(_constant(float(reward.value)))}")
    else:
        lines.append(f"    _out[{reward_row}] = {_unparse(plain(reward))}")
    conditions: list[str] = []
    always = False
    for step in program.terminated:
        tree = step.folded
        if isinstance(tree, ast.Constant):
            always = always or bool(tree.value)
            continue
        text = _unparse(plain(tree))
        conditions.append(text if is_boolean(tree) else f"({text} != 0)")
    if always:
        lines.append("    _terminated = _np.ones(_n, dtype=_np.bool_)")
    elif conditions:
        lines.append(f"    _terminated = {' | '.join(f'({c})' for c in conditions)}")
    else:
        lines.append("    _terminated = _np.zeros(_n, dtype=_np.bool_)")
    lines.append("    return _terminated")
    lines.append("")

    # reset
    lines.append("def _vinit(_rng, _n, _out):")
    uniform_rows = [i for i, step in enumerate(program.init) if _constant_uniform(step.folded)]
    simple = all(isinstance(step.folded, ast.Constant) or i in uniform_rows for i, step in enumerate(program.init))
    if simple and len(uniform_rows) > 1:
        # every start value is a constant or a uniform draw with constant bounds: one draw call for all of them
        low = np.array([[float(program.init[i].folded.args[0].value)] for i in uniform_rows])  # type: ignore[attr-defined]
        high = np.array([[float(program.init[i].folded.args[1].value)] for i in uniform_rows])  # type: ignore[attr-defined]
        tables["_INIT_LOW"], tables["_INIT_SPAN"] = low, high - low
        rows = (
            f"{uniform_rows[0]}:{uniform_rows[-1] + 1}"
            if uniform_rows == list(range(uniform_rows[0], uniform_rows[-1] + 1))
            else repr(uniform_rows)
        )
        # numpy's own formula for uniform, without the argument checks of rng.uniform (they cost ~20 us)
        lines.append(f"    _out[{rows}] = _INIT_LOW + _INIT_SPAN * _rng.random(({len(uniform_rows)}, _n))")
        for i, step in enumerate(program.init):
            if i not in uniform_rows:
                lines.append(f"    _out[{i}] = {_unparse(_constant(step.folded.value))}")  # type: ignore[attr-defined]
    else:
        for i, step in enumerate(program.init):
            emit(step.target, step.folded)
            lines.append(f"    _out[{i}] = {step.target}")
    lines.append("    return _out")
    lines.append("")

    # observation
    lines.append("def _vobs(_S, _n):")
    if _default_observation(program):
        lines.append("    return _S.T.astype(_f32)")
    else:
        for i, name in enumerate(program.state_names):
            lines.append(f"    {name} = _S[{i}]")
        lines.append(f"    _O = _np.empty(({len(program.observation)}, _n), dtype=_f32)")
        for i, step in enumerate(program.observation):
            lines.append(f"    _O[{i}] = {_unparse(plain(step.folded))}")
        lines.append("    return _O.T.copy()")
    return "\n".join(lines) + "\n", tables


# ------------------------------------------------------------------------------------------------ scalar code


def scalar_source(program: Program) -> str:
    """Source of ``_sstep``, ``_sinit`` and ``_sobs`` for one environment on Python floats."""
    def resolve(name: str) -> ast.expr:
        return _name("_a") if name == ACTION_NAME and name in program.builtins else _name(name)

    rewriter = _ScalarRewriter(resolve)
    lines: list[str] = []

    def emit(step: Step, indent: str = "    ") -> None:
        lines.append(f"{indent}{step.target} = {_unparse(rewriter(step.folded))}")

    state = ", ".join(program.state_names)
    lines.append("def _sstep(_s, _a, _rng):")
    lines.append(f"    {state}, = _s")
    for step in program.draws:
        emit(step)
    if len(program.actions) == 1:
        for step in program.actions[0].updates:
            emit(step)
    elif program.action_targets:
        for target in program.constant_overrides:
            lines.append(f"    {target} = {_unparse(_constant(program.constants[target]))}")
        for a, action in enumerate(program.actions):
            lines.append(f"    {'if' if a == 0 else 'elif'} _a == {a}:")
            for step in action.updates:
                emit(step, "        ")
            if not action.updates:
                lines.append("        pass")
    for step in [*program.updates, *program.clips]:
        emit(step)
    reward = program.reward.folded
    reward_text = _unparse(_constant(float(reward.value)) if isinstance(reward, ast.Constant) else rewriter(reward))
    conditions = []
    for step in program.terminated:
        tree = step.folded
        text = _unparse(rewriter(tree))
        conditions.append(text if is_boolean(tree) else f"({text} != 0)")
    terminated = " or ".join(f"({c})" for c in conditions) if conditions else "False"
    lines.append(f"    return ({state},), float({reward_text}), bool({terminated})")
    lines.append("")
    lines.append("def _sinit(_rng):")
    for step in program.init:
        emit(step)
    lines.append(f"    return ({state},)")
    lines.append("")
    lines.append("def _sobs(_s):")
    lines.append(f"    {state}, = _s")
    observation = ", ".join(_unparse(rewriter(step.folded)) for step in program.observation)
    lines.append(f"    return ({observation},)")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ namespaces


def _draw_uniform(rng: np.random.Generator, n: int, low: object, high: object) -> np.ndarray:
    return low + (high - low) * rng.random(n)  # type: ignore[operator]


def _draw_normal(rng: np.random.Generator, n: int, loc: object, scale: object) -> np.ndarray:
    return loc + scale * rng.standard_normal(n)  # type: ignore[operator]


def _draw_poisson(rng: np.random.Generator, n: int, lam: object) -> np.ndarray:
    lam = np.asarray(lam, dtype=np.float64)
    bad = ~((lam >= 0) & (lam < 1e9))  # numpy raises on these; we give nan, which the env contains
    if not bad.any():
        return rng.poisson(lam, n).astype(np.float64)
    draws = rng.poisson(np.where(bad, 0.0, lam), n).astype(np.float64)
    return np.where(bad, np.nan, draws)


def _draw_bernoulli(rng: np.random.Generator, n: int, p: object) -> np.ndarray:
    return (rng.random(n) < p).astype(np.float64)


def _draw_integers(rng: np.random.Generator, n: int, low: object, high: object) -> np.ndarray:
    return np.floor(low + (high - low) * rng.random(n))  # type: ignore[operator]


def _draw_choice(rng: np.random.Generator, n: int, choices: tuple[object, ...]) -> np.ndarray:
    index = (len(choices) * rng.random(n)).astype(np.intp)
    return _choose(index, choices)


def _choose(index: np.ndarray, choices: tuple[object, ...]) -> np.ndarray:
    if len(choices) <= 32:
        return np.choose(index, choices).astype(np.float64, copy=False)
    n = index.shape[0]
    stacked = np.stack([np.broadcast_to(np.asarray(c, dtype=np.float64), (n,)) for c in choices])
    return stacked[index, np.arange(n)]


def vector_namespace(tables: dict[str, np.ndarray]) -> dict[str, object]:
    """Globals for the vector code: numpy and the draw helpers; no builtins."""
    return {
        "__builtins__": {},
        "_np": np,
        "_f64": np.float64,
        "_f32": np.float32,
        "_choose": _choose,
        "_draw_uniform": _draw_uniform,
        "_draw_normal": _draw_normal,
        "_draw_poisson": _draw_poisson,
        "_draw_bernoulli": _draw_bernoulli,
        "_draw_integers": _draw_integers,
        "_draw_choice": _draw_choice,
        **tables,
    }


def _pow(base: float, exponent: float) -> float:
    result = base**exponent
    if isinstance(result, complex):
        raise ValueError("negative base to a fractional power")
    return result


def _min(*values: float) -> float:
    """``min`` that propagates nan like ``numpy.minimum`` (the builtin's answer depends on the argument order)."""
    result = values[0]
    for value in values[1:]:
        if value < result or value != value:
            result = value
    return result


def _max(*values: float) -> float:
    """``max`` that propagates nan like ``numpy.maximum``."""
    result = values[0]
    for value in values[1:]:
        if value > result or value != value:
            result = value
    return result


def _clip(x: float, low: float, high: float) -> float:
    """``minimum(maximum(x, low), high)``, as the vector code computes it."""
    return _min(_max(x, low), high)


def scalar_namespace() -> dict[str, object]:
    """Globals for the scalar code: :mod:`math` functions and scalar draws; no builtins."""
    return {
        "__builtins__": {},
        "float": float,
        "bool": bool,
        **scalar_helpers(),
        "_min": _min,
        "_max": _max,
        "_clip": _clip,
        "_pow": _pow,
        "_s_uniform": lambda rng, low, high: low + (high - low) * rng.random(),
        "_s_normal": lambda rng, loc, scale: loc + scale * rng.standard_normal(),
        "_s_poisson": lambda rng, lam: float(rng.poisson(lam)),
        "_s_bernoulli": lambda rng, p: float(rng.random() < p),
        "_s_integers": lambda rng, low, high: float(math.floor(low + (high - low) * rng.random())),
        "_s_choice": lambda rng, choices: choices[int(len(choices) * rng.random())],
    }


class EmitWriter:
    """Prints trees as readable code for the standalone module (see :mod:`alamp.spec.emit`)."""

    def __init__(self, resolve: Callable[[str], ast.expr]) -> None:
        self._rewriter = _EmitRewriter(resolve)

    def __call__(self, tree: ast.expr) -> str:
        return _unparse(self._rewriter(tree))


# ------------------------------------------------------------------------------------------------ numba code


def numba_source(program: Program) -> str:
    """Source of the numba kernels ``_nb_step`` and ``_nb_reset`` (and their helpers) for a batch.

    Both loop over the envs of a batch held as ``_S`` (``(n, n_state)`` float64, one row per env) and draw from
    ``_R``, the addresses of the env's numpy bit generator (so seeding the env seeds them; see
    :mod:`alamp.spec.numba_backend`). ``_nb_step`` returns the number of finished episodes (each reset in
    place, same-step autoreset), or ``-1 - i`` when action ``i`` is out of range (then nothing has changed).
    """
    def resolve(name: str) -> ast.expr:
        return _name("_a") if name == ACTION_NAME and name in program.builtins else _name(name)

    rewriter = _NumbaRewriter(resolve)
    names = program.state_names
    k = len(names)
    lines: list[str] = []

    def emit(step: Step, indent: str) -> None:
        lines.append(f"{indent}{step.target} = {_unparse(rewriter.number(step.folded))}")

    def load(indent: str) -> None:
        for j, name in enumerate(names):
            lines.append(f"{indent}{name} = _S[_i, {j}]")

    # one env's start state: numpy's nan_to_num on anything not finite, as the numpy reset does
    lines.append("def _nb_init(_S, _i, _bg):")
    for step in program.init:
        emit(step, "    ")
    for j, name in enumerate(names):
        lines.append(f"    _S[_i, {j}] = _finite64({name})")
    lines.append("")

    # one env's observation, as float32 and finite
    lines.append("def _nb_obs(_S, _i, _O):")
    load("    ")
    for j, step in enumerate(program.observation):
        lines.append(f"    _O[_i, {j}] = _finite32({_unparse(rewriter.number(step.folded))})")
    lines.append("")

    lines.append("def _nb_reset(_S, _mask, _O, _deadline, _R, _clock, _max_steps):")
    lines.append("    _bg = _bitgen(_R[0], _R[1], _R[2], _R[3])")
    lines.append("    for _i in _range(_S.shape[0]):")
    lines.append("        if _mask[_i]:")
    lines.append("            _nb_init(_S, _i, _bg)")
    lines.append("            _deadline[_i] = _clock + _max_steps")
    lines.append("        _nb_obs(_S, _i, _O)")
    lines.append("    return 0")
    lines.append("")

    lines.append(
        "def _nb_step(_S, _A, _R, _O, _final, _last, _reward, _terminated, _truncated, _done, _bad, _deadline, "
        "_clock, _max_steps):"
    )
    lines.append("    _n = _S.shape[0]")
    lines.append("    for _i in _range(_n):")
    lines.append(f"        if _A[_i] < 0 or _A[_i] >= {len(program.actions)}:")
    lines.append("            return -1 - _i")
    lines.append("    _bg = _bitgen(_R[0], _R[1], _R[2], _R[3])")
    lines.append("    _finished = 0")
    lines.append("    for _i in _range(_n):")
    body = "        "
    lines.append(f"{body}_a = _A[_i]")
    load(body)
    for step in program.draws:
        emit(step, body)
    if len(program.actions) == 1:
        for step in program.actions[0].updates:
            emit(step, body)
    elif program.action_targets:
        for target in program.constant_overrides:
            lines.append(f"{body}{target} = {_unparse(_constant(program.constants[target]))}")
        last_action = len(program.actions) - 1
        for a, action in enumerate(program.actions):
            # the last branch is a plain else: actions were checked above, and numba then sees every name defined
            lines.append(f"{body}{'if' if a == 0 else 'elif'} _a == {a}:" if a < last_action else f"{body}else:")
            for step in action.updates:
                emit(step, body + "    ")
            if not action.updates:
                lines.append(f"{body}    pass")
    for step in [*program.updates, *program.clips]:
        emit(step, body)
    reward = program.reward.folded
    reward_tree = _constant(float(reward.value)) if isinstance(reward, ast.Constant) else rewriter.number(reward)
    lines.append(f"{body}_r = _float({_unparse(reward_tree)})")
    conditions = []
    for step in program.terminated:
        tree = step.folded
        text = _unparse(rewriter(tree))
        conditions.append(text if is_boolean(tree) else f"({text} != 0)")
    lines.append(f"{body}_t = {' or '.join(f'({c})' for c in conditions) if conditions else 'False'}")
    # one sum checks everything (inf or nan anywhere makes it non-finite); look closer only when it is not
    lines.append(f"{body}_b = False")
    lines.append(f"{body}if not _isfinite({' + '.join([*names, '_r'])}):")
    lines.append(f"{body}    _b = not ({' and '.join(f'_isfinite({v})' for v in [*names, '_r'])})")
    for j, name in enumerate(names):
        lines.append(f"{body}_S[_i, {j}] = {name}")
    lines.append(f"{body}_last[_i, {k}] = _r")
    lines.append(f"{body}if _b:")
    lines.append(f"{body}    _t = True")
    lines.append(f"{body}    if not _isfinite(_r):")
    lines.append(f"{body}        _r = 0.0")
    lines.append(f"{body}_reward[_i] = _r")
    lines.append(f"{body}_terminated[_i] = _t")
    lines.append(f"{body}_bad[_i] = _b")
    lines.append(f"{body}_tr = _deadline[_i] <= _clock")
    lines.append(f"{body}_truncated[_i] = _tr")
    lines.append(f"{body}_nb_obs(_S, _i, _O)")
    lines.append(f"{body}for _j in _range({len(program.observation)}):")
    lines.append(f"{body}    _final[_i, _j] = _O[_i, _j]")
    lines.append(f"{body}_done[_i] = _t or _tr")
    lines.append(f"{body}if _t or _tr:")
    lines.append(f"{body}    _finished += 1")
    lines.append(f"{body}    for _j in _range({k}):")
    lines.append(f"{body}        _last[_i, _j] = _S[_i, _j]")
    lines.append(f"{body}    _nb_init(_S, _i, _bg)")
    lines.append(f"{body}    _deadline[_i] = _clock + _max_steps")
    lines.append(f"{body}    _nb_obs(_S, _i, _O)")
    lines.append("    return _finished")
    return "\n".join(lines) + "\n"
