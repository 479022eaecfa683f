"""The expression language: Python syntax, parsed with :mod:`ast` and checked against a whitelist.

An expression is parsed once into a *normalised* tree that holds only these node types:

- ``Constant`` (a ``float`` or a ``bool``), ``Name``;
- ``BinOp`` (``+ - * / // % **``), ``UnaryOp`` (``-``, ``+``, ``not``), ``Compare`` (``< <= > >= == !=``, chains),
  ``BoolOp`` (``and``/``or``), ``IfExp`` (``a if c else b``);
- ``Call`` of a whitelisted function by its canonical name, with all arguments positional and defaults filled in.

Nothing else survives, so the code generators in :mod:`alamp.spec.codegen` can turn any normalised tree into
Python source without further checks. Forms that are unambiguous but not the asked-for ones (``x = expr``,
``x += expr``, ``np.sin``, ``"3.5"``, ``true``, ``a & b`` between comparisons) are rewritten and the rewrite is
recorded; everything else outside the whitelist is refused with a message naming the offending piece.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from alamp.schema._names import NEXT_VALUE_SUFFIXES
from alamp.spec.functions import SPEC_FUNCTIONS, SpecFunction, bare_call_names

__all__ = [
    "FUNCTIONS",
    "RANDOM_FUNCTIONS",
    "BUILTIN_CONSTANTS",
    "MAX_EXPRESSION_CHARS",
    "MAX_EXPONENT",
    "ParsedExpression",
    "parse_expression",
    "free_names",
    "is_boolean",
    "has_random",
    "short",
    "did_you_mean",
]

MAX_EXPRESSION_CHARS = 2000
"""Longer expressions are refused: split them into intermediate assignments."""
MAX_DEPTH = 60
"""Deeper nesting is refused (it also keeps the recursive walkers far from Python's recursion limit)."""
MAX_NODES = 600
MAX_EXPONENT = 64.0
"""A constant exponent larger than this in magnitude is refused (``10**10**10``)."""


FUNCTIONS: Mapping[str, SpecFunction] = SPEC_FUNCTIONS
"""The whitelisted functions (arity, argument names, defaults): :data:`alamp.spec.functions.SPEC_FUNCTIONS`."""
RANDOM_FUNCTIONS = frozenset(name for name, f in FUNCTIONS.items() if f.random)

# Other spellings of the same function; the canonical name is recorded as a normalisation.
_FUNCTION_ALIASES = {
    "fabs": "abs",
    "absolute": "abs",
    "minimum": "min",
    "maximum": "max",
    "amin": "min",
    "amax": "max",
    "randint": "integers",
    "gauss": "normal",
    "rint": "round",
    "clamp": "clip",  # C++, Rust and shader spelling (the SAR agent wrote clamp(u - 0.1, 0, 1); tank_level, dev)
}
_MODULE_PREFIXES = {"np", "numpy", "math", "random", "rng"}
BUILTIN_CONSTANTS: dict[str, float] = {"pi": math.pi, "inf": math.inf}
_ATTRIBUTE_CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf}

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_CMPOPS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)

# Nodes refused outright, with the words an LLM needs to fix them.
_REFUSED = {
    ast.Subscript: "subscripts such as a[i] are not allowed; use one scalar variable per element",
    ast.Lambda: "lambda functions are not allowed; write the expression itself",
    ast.ListComp: "list comprehensions are not allowed; write the expression for one value",
    ast.SetComp: "set comprehensions are not allowed",
    ast.DictComp: "dict comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.Dict: "dicts are not allowed; expressions compute one number",
    ast.Set: "sets are not allowed; expressions compute one number",
    ast.Tuple: "tuples are not allowed; expressions compute one number (use separate assignments)",
    ast.List: "lists are only allowed as the argument of choice([...]), min([...]) or max([...])",
    ast.JoinedStr: "f-strings are not allowed; expressions compute numbers",
    ast.NamedExpr: "the walrus operator ':=' is not allowed; use a separate assignment",
    ast.Starred: "starred arguments (*args) are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
}


@dataclass
class ParsedExpression:
    """One checked expression.

    Attributes:
        label: Where it came from, with its text, e.g. ``"updates[2] (x_dot = x_dot + tau * xacc)"``.
        tree: The normalised tree (see the module docstring for the node types it may hold).
        text: The normalised expression as Python source (``ast.unparse`` of ``tree``).
    """

    label: str
    tree: ast.expr
    text: str


def short(text: str, limit: int = 120) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    one_line = " ".join(str(text).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


def did_you_mean(name: str, known: set[str] | list[str]) -> str:
    """A ``"; did you mean 'x'?"`` suffix when some known name is close to ``name``."""
    close = difflib.get_close_matches(name, sorted(known), n=2, cutoff=0.7)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def free_names(tree: ast.AST) -> set[str]:
    """The variable names an expression reads (function names excluded)."""
    functions = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and id(node) not in functions}


def has_random(tree: ast.AST) -> bool:
    """Whether the expression draws random numbers."""
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in RANDOM_FUNCTIONS
        for node in ast.walk(tree)
    )


def is_boolean(node: ast.AST) -> bool:
    """Whether a normalised node is a truth value (a comparison, ``and``/``or``/``not``, or ``True``/``False``)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, bool)
    if isinstance(node, ast.Compare | ast.BoolOp):
        return True
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.Not)
    if isinstance(node, ast.IfExp):
        return is_boolean(node.body) and is_boolean(node.orelse)
    return False


def _dotted(node: ast.AST) -> list[str] | None:
    """``np.random.uniform`` -> ``["np", "random", "uniform"]``; None when it is not a plain dotted name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _depth_and_size(tree: ast.AST) -> tuple[int, int]:
    """Nesting depth and node count, computed without recursion."""
    deepest, count = 0, 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest, count


class _Normaliser:
    """Rewrites a parsed tree into the normalised node set, collecting problems and normalisations."""

    def __init__(self, label: str, declared: set[str], problems: list[str], normalisations: list[str]) -> None:
        self.label = label
        self.declared = declared
        self.problems = problems
        self.normalisations = normalisations

    def problem(self, node: ast.AST | None, message: str) -> None:
        piece = f" '{short(ast.unparse(node), 60)}'" if node is not None else ""
        self.problems.append(f"{self.label}:{piece} {message}")

    def note(self, what: str) -> None:
        self.normalisations.append(f"{self.label}: {what}")

    def visit(self, node: ast.AST) -> ast.expr:
        """Return the normalised node (a placeholder ``Constant(0.0)`` after a refusal, so that checking goes on)."""
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is not None:
            return method(node)
        for kind, message in _REFUSED.items():
            if isinstance(node, kind):
                self.problem(node, message)
                return ast.Constant(0.0)
        self.problem(node, f"{type(node).__name__} is not part of the expression language")
        return ast.Constant(0.0)

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        value = node.value
        if isinstance(value, bool):
            return ast.Constant(value)
        if isinstance(value, int | float):
            return ast.Constant(float(value))
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                self.problem(node, "is a string; expressions compute numbers (write a number or a name)")
                return ast.Constant(0.0)
            self.note(f"the string {value!r} -> the number {number!r}")
            return ast.Constant(number)
        self.problem(node, f"{type(value).__name__} constants are not allowed; use a real number")
        return ast.Constant(0.0)

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if not node.id.isascii():
            # Maths-heavy descriptions invite symbols (θ, ẋ); spec names are spelled out the same way everywhere.
            from alamp.schema._names import to_identifier

            spelled = to_identifier(node.id)
            self.note(f"{node.id} -> {spelled}")
            node = ast.Name(spelled, ast.Load())
        if node.id.startswith("_"):
            self.problem(node, "names starting with '_' are reserved; use a plain name")
            return ast.Constant(0.0)
        if node.id in ("true", "false", "TRUE", "FALSE") and node.id not in self.declared:
            self.note(f"{node.id} -> {node.id.lower() == 'true'}")
            return ast.Constant(node.id.lower() == "true")
        if node.id in ("nan", "NaN", "NAN") and node.id not in self.declared:
            self.problem(node, "nan is not allowed; a value must be a real number")
            return ast.Constant(0.0)
        return ast.Name(node.id, ast.Load())

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        """``cells[2][1]`` or ``cells[2, 1]`` -> ``cells_2_1`` when a list constant was expanded to that name."""
        indices: list[int] = []
        base: ast.expr = node
        while isinstance(base, ast.Subscript):
            index = base.slice
            parts = index.elts if isinstance(index, ast.Tuple) else [index]
            if not all(isinstance(p, ast.Constant) and type(p.value) is int and p.value >= 0 for p in parts):
                break
            indices[:0] = [p.value for p in parts]  # type: ignore[attr-defined]
            base = base.value
        if isinstance(base, ast.Name) and indices:
            element = "_".join([base.id, *map(str, indices)])
            if element in self.declared:
                self.note(f"{ast.unparse(node)} -> {element}")
                return ast.Name(element, ast.Load())
        self.problem(
            node,
            "subscripts such as a[i] are not allowed; use one scalar variable per element (a list constant "
            "`cells` is available element by element as cells_0, cells_1, ... and cells_0_1 for nested lists)",
        )
        return ast.Constant(0.0)

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        parts = _dotted(node)
        if parts and parts[0] in _MODULE_PREFIXES and len(parts) == 2 and parts[1] in _ATTRIBUTE_CONSTANTS:
            name = parts[1]
            if name in BUILTIN_CONSTANTS:
                self.note(f"{'.'.join(parts)} -> {name}")
                return ast.Name(name, ast.Load())
            self.note(f"{'.'.join(parts)} -> {_ATTRIBUTE_CONSTANTS[name]!r}")
            return ast.Constant(_ATTRIBUTE_CONSTANTS[name])
        self.problem(
            node,
            "attribute access is not allowed; call whitelisted functions by their plain name "
            f"(e.g. sin(x), not np.sin(x)); allowed functions: {', '.join(FUNCTIONS)}",
        )
        return ast.Constant(0.0)

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        if isinstance(node.op, ast.BitXor):
            self.problem(node, "'^' is bitwise xor in Python, not a power; write '**' for a power (e.g. x ** 2)")
            return ast.Constant(0.0)
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.BitAnd | ast.BitOr):
            word = "and" if isinstance(node.op, ast.BitAnd) else "or"
            if is_boolean(left) and is_boolean(right):
                self.note(f"'{'&' if word == 'and' else '|'}' between conditions -> '{word}'")
                return ast.BoolOp(ast.And() if word == "and" else ast.Or(), [left, right])
            self.problem(node, f"bitwise operators are not allowed; write '{word}' between conditions")
            return ast.Constant(0.0)
        if not isinstance(node.op, _BINOPS):
            self.problem(node, f"the operator {type(node.op).__name__} is not allowed; use + - * / // % **")
            return ast.Constant(0.0)
        return ast.BinOp(left, node.op, right)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Invert):
            if is_boolean(operand):
                self.note("'~' before a condition -> 'not'")
                return ast.UnaryOp(ast.Not(), operand)
            self.problem(node, "'~' (bitwise not) is not allowed; write 'not' before a condition or '-' to negate")
            return ast.Constant(0.0)
        return ast.UnaryOp(node.op, operand)

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        for op in node.ops:
            if not isinstance(op, _CMPOPS):
                self.problem(node, f"the comparison {type(op).__name__} is not allowed; use < <= > >= == !=")
                return ast.Constant(False)
        return ast.Compare(self.visit(node.left), list(node.ops), [self.visit(c) for c in node.comparators])

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        return ast.BoolOp(node.op, [self.visit(v) for v in node.values])

    def visit_IfExp(self, node: ast.IfExp) -> ast.expr:
        return ast.IfExp(self.visit(node.test), self.visit(node.body), self.visit(node.orelse))

    def _function_name(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Name):
            name = func.id
        else:
            parts = _dotted(func)
            if not parts or parts[0] not in _MODULE_PREFIXES or len(parts) > 3:
                return None
            if len(parts) == 3 and parts[1] != "random":
                return None
            name = parts[-1]
            self.note(f"{'.'.join(parts)} -> {_FUNCTION_ALIASES.get(name, name)}")
        if name in _FUNCTION_ALIASES:
            if isinstance(func, ast.Name):
                self.note(f"{name} -> {_FUNCTION_ALIASES[name]}")
            name = _FUNCTION_ALIASES[name]
        return name

    def visit_Call(self, node: ast.Call) -> ast.expr:
        name = self._function_name(node.func)
        raw = short(ast.unparse(node.func), 40)
        if name in ("pow", "power", "float_power") and len(node.args) == 2 and not node.keywords:
            self.note(f"{raw}(a, b) -> a ** b")
            return self.visit_BinOp(ast.BinOp(node.args[0], ast.Pow(), node.args[1]))
        if name == "square" and len(node.args) == 1 and not node.keywords:
            self.note(f"{raw}(x) -> x ** 2")
            return self.visit_BinOp(ast.BinOp(node.args[0], ast.Pow(), ast.Constant(2.0)))
        if name == "binomial" and len(node.args) == 2 and not node.keywords:
            trials = node.args[0]
            if isinstance(trials, ast.Constant) and trials.value == 1 and not isinstance(trials.value, bool):
                self.note(f"{raw}(1, p) -> bernoulli(p)")  # one trial: a Bernoulli draw
                draw = ast.Call(func=ast.Name("bernoulli", ast.Load()), args=[node.args[1]], keywords=[])
                return self.visit_Call(draw)
        if name in ("random", "rand") and not node.args and not node.keywords:
            self.note(f"{raw}() -> uniform()")
            name = "uniform"
        if name in ("float", "int", "bool") and len(node.args) == 1 and not node.keywords:
            inner = node.args[0]
            if isinstance(inner, ast.Constant) and isinstance(inner.value, str | int | float):
                return self.visit_Constant(inner)
        if name is None or name not in FUNCTIONS:
            self.problem(
                node,
                f"calls '{raw}', which is not an allowed function; allowed functions: {', '.join(FUNCTIONS)}"
                + (did_you_mean(name, set(FUNCTIONS)) if name else ""),
            )
            return ast.Constant(0.0)
        spec = FUNCTIONS[name]
        raw_args = list(node.args)
        if name in ("choice", "min", "max") and len(raw_args) == 1 and isinstance(raw_args[0], ast.List | ast.Tuple):
            raw_args = list(raw_args[0].elts)
        if any(isinstance(a, ast.Starred) for a in raw_args):
            self.problem(node, "starred arguments (*args) are not allowed")
            return ast.Constant(0.0)
        args: list[ast.expr | None] = [self.visit(a) for a in raw_args]
        if node.keywords:
            if not spec.params:
                self.problem(node, f"{name}() takes positional arguments only")
                return ast.Constant(0.0)
            slots: list[ast.expr | None] = args + [None] * (len(spec.params) - len(args))
            for kw in node.keywords:
                key = spec.synonyms.get(kw.arg or "", kw.arg)
                if key not in spec.params:
                    accepted = ", ".join(spec.params)
                    self.problem(node, f"{name}() has no argument {kw.arg!r}; its arguments are {accepted}")
                    return ast.Constant(0.0)
                index = spec.params.index(key)
                if index < len(slots) and slots[index] is not None:
                    self.problem(node, f"{name}() got argument {key!r} twice")
                    return ast.Constant(0.0)
                slots[index] = self.visit(kw.value)
            while slots and slots[-1] is None:
                slots.pop()
            if any(s is None for s in slots):
                missing = [spec.params[i] for i, s in enumerate(slots) if s is None]
                self.problem(node, f"{name}() is missing argument(s) {', '.join(missing)}")
                return ast.Constant(0.0)
            args = slots
        if len(args) < spec.min_args or (spec.max_args is not None and len(args) > spec.max_args):
            wanted = (
                f"{spec.min_args}"
                if spec.min_args == spec.max_args
                else f"{spec.min_args} or more"
                if spec.max_args is None
                else f"{spec.min_args} to {spec.max_args}"
            )
            params = f" ({', '.join(spec.params)})" if spec.params else ""
            self.problem(node, f"{name}() takes {wanted} argument(s){params}, got {len(args)}")
            return ast.Constant(0.0)
        if name == "integers" and len(args) == 1:
            args = [ast.Constant(0.0), args[0]]
        if spec.defaults and len(args) < len(spec.params):
            args = args + [ast.Constant(d) for d in spec.defaults[len(args) :]]
        return ast.Call(ast.Name(name, ast.Load()), [a for a in args if a is not None], [])


def _strip_assignment(
    text: str, targets: tuple[str, ...], label: str, problems: list[str], normalisations: list[str]
) -> ast.expr | None:
    """Parse ``text`` written as a statement (``x = expr``, ``x += expr``) where an expression was asked."""
    try:
        module = ast.parse(text, mode="exec")
    except SyntaxError as error:
        detail = error.msg
        if error.offset:
            detail += f" at column {error.offset}"
        problems.append(f"{label}: is not a valid Python expression ({detail}); write one expression such as x + 1")
        return None
    if len(module.body) != 1:
        problems.append(f"{label}: contains {len(module.body)} statements; write one expression")
        return None
    statement = module.body[0]
    target: ast.expr | None = None
    value: ast.expr | None = None
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target, value = statement.targets[0], statement.value
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        target, value = statement.target, statement.value
    elif isinstance(statement, ast.AugAssign):
        target = statement.target
        value = ast.BinOp(ast.Name(statement.target.id, ast.Load()), statement.op, statement.value) if isinstance(
            statement.target, ast.Name
        ) else None
    if isinstance(statement, ast.If):
        # `if c: x = a` / `if c: x = a else: x = b` (also elif) for x: `a if c else x` -- the same update.
        name = _first_assigned(statement)
        kept = _target_of(name, targets) if name is not None else None
        if name is not None and kept is not None:
            value = _conditional_value(statement, name, kept)
            if value is not None:
                normalisations.append(f"{label}: '{short(text, 80)}' -> '{kept} = {short(ast.unparse(value), 80)}'")
                return value
    if not isinstance(target, ast.Name) or value is None:
        problems.append(f"{label}: is a statement, not an expression; write only the expression (e.g. x + 1)")
        return None
    if targets and target.id not in targets:
        problems.append(
            f"{label}: assigns to '{target.id}', but this field computes '{targets[0]}'; write only the right-hand "
            "side, or move the assignment to the field for that name"
        )
        return None
    normalisations.append(f"{label}: '{short(text, 80)}' -> '{targets[0] if targets else target.id} = "
                          f"{short(ast.unparse(value), 80)}'")
    return value



def _assigned_value(statement: ast.stmt, name: str) -> ast.expr | None:
    """The new value of ``name`` in ``name = e`` / ``name += e``; None for any other statement."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
        return statement.value if isinstance(target, ast.Name) and target.id == name else None
    if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name) and statement.target.id == name:
        return ast.BinOp(ast.Name(name, ast.Load()), statement.op, statement.value)
    return None


def _first_assigned(statement: ast.If) -> str | None:
    first = statement.body[0] if len(statement.body) == 1 else None
    if isinstance(first, ast.Assign) and len(first.targets) == 1 and isinstance(first.targets[0], ast.Name):
        return first.targets[0].id
    if isinstance(first, ast.AugAssign) and isinstance(first.target, ast.Name):
        return first.target.id
    return None


def _target_of(name: str, targets: tuple[str, ...]) -> str | None:
    """The field's target that ``name`` assigns: itself, or its next-value form (``row_next`` for ``row``)."""
    if not targets:
        return name
    for target in targets:
        if name == target or name in {target + suffix for suffix in NEXT_VALUE_SUFFIXES}:
            return target
    return None


def _conditional_value(statement: ast.stmt, name: str, kept: str) -> ast.expr | None:
    """``if c: name = a [elif ...] [else: name = b]`` as one expression; without an else, ``kept`` keeps its value.

    None when a branch does anything else.
    """
    if not isinstance(statement, ast.If):
        return _assigned_value(statement, name)
    if len(statement.body) != 1 or len(statement.orelse) > 1:
        return None
    then = _assigned_value(statement.body[0], name)
    otherwise = _conditional_value(statement.orelse[0], name, kept) if statement.orelse else ast.Name(kept, ast.Load())
    if then is None or otherwise is None:
        return None
    return ast.IfExp(test=statement.test, body=then, orelse=otherwise)


_UNICODE_OPERATORS = {"\u2212": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*", "\u00f7": "/", "\u2264": "<=",
                      "\u2265": ">=", "\u2260": "!="}
_SUPERSCRIPTS = {"\u00b2": "2", "\u00b3": "3"}
_WORD_OPERATORS = {"&&": " and ", "||": " or ", "\u2190": "="}
# ``sin θ`` / ``cos²θ``: a function applied to a bare name without parentheses (textbook notation).
_BARE_CALL = re.compile(
    rf"\b({'|'.join(bare_call_names())})(?:(\u00b2|\u00b3)\s*|\s+)([^\W\d]\w*[\u0300-\u036f]*)(?!\s*\()"
)
_ABS_BARS = re.compile(r"\|([^|]+)\|")


_SPREADSHEET_IF = re.compile(r"(?<![\w.])if\s*\(", re.IGNORECASE)


def _rewrite_maths_notation(text: str) -> str:
    """Rewrite textbook notation whose meaning is unambiguous into Python syntax.

    ``|x| > 2.4`` -> ``abs(x) > 2.4`` (only when the text is not valid Python as written, since ``|`` is also an
    operator), ``cos²(theta)`` -> ``cos(theta)**2``, ``sin θ`` -> ``sin(θ)``, ``x²`` -> ``x**2``, ``&&``/``||`` ->
    ``and``/``or``, ``←`` -> ``=``, unicode operators (``−``, ``×``, ``·``, ``≤``), and the spreadsheet form
    ``if(c, a, b)`` -> ``where(c, a, b)`` (only when the text is not valid Python as written).
    """
    for symbol, ascii_op in {**_UNICODE_OPERATORS, **_WORD_OPERATORS}.items():
        text = text.replace(symbol, ascii_op)
    text = _BARE_CALL.sub(lambda m: f"{m.group(1)}{m.group(2) or ''}({m.group(3)})", text)
    for symbol, power in _SUPERSCRIPTS.items():
        while symbol in text:
            at = text.index(symbol)
            before, after = text[:at], text[at + 1:]
            if after.startswith("("):  # f²(x): the power applies to the call's result
                depth, end = 0, 0
                while end < len(after):
                    depth += {"(": 1, ")": -1}.get(after[end], 0)
                    if depth == 0:
                        break
                    end += 1
                text = f"{before}{after[:end + 1]}**{power}{after[end + 1:]}"
            else:
                text = f"{before}**{power}{after}"
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        candidate = text
        if "|" in candidate:
            candidate = _ABS_BARS.sub(lambda m: f"abs({m.group(1).strip()})", candidate)
        # if(c, a, b) as in a spreadsheet: `if` cannot be a function name in Python, so it can only mean where().
        candidate = _SPREADSHEET_IF.sub("where(", candidate)
        try:
            ast.parse(candidate, mode="eval")
        except SyntaxError:
            return text
        return candidate
    except (RecursionError, MemoryError, ValueError):
        return text
    return text


def parse_expression(
    raw: object,
    *,
    label: str,
    declared: set[str],
    problems: list[str],
    normalisations: list[str],
    targets: tuple[str, ...] = (),
) -> ParsedExpression | None:
    """Parse and normalise one expression, appending any problems and normalisations.

    Args:
        raw: The expression as written (a string, or a number).
        label: Where it comes from, for messages (e.g. ``"updates[2]"``); the text is appended.
        declared: Every name the spec declares (user names shadow ``true``/``false`` normalisation).
        problems: Where refusals are appended.
        normalisations: Where rewrites are appended.
        targets: Names whose assignment form (``x = expr`` / ``x += expr``) is accepted and stripped.

    Returns:
        The parsed expression, or None when it was refused (the reasons are in ``problems``).
    """
    if isinstance(raw, bool):
        raw = str(raw)
    text = str(raw).strip() if raw is not None else ""
    full_label = f"{label} ({short(text)})"
    if not text:
        problems.append(f"{label}: is empty; write an expression (e.g. 0)")
        return None
    if len(text) > MAX_EXPRESSION_CHARS:
        problems.append(
            f"{full_label}: is {len(text)} characters long (limit {MAX_EXPRESSION_CHARS}); split it into "
            "intermediate assignments in updates"
        )
        return None
    if text.endswith(";"):
        text = text.rstrip(";").strip()
    rewritten = _rewrite_maths_notation(text)
    if rewritten != text:
        normalisations.append(f"{full_label}: maths notation -> '{short(rewritten, 80)}'")
        text = rewritten
    try:
        tree: ast.expr | None = ast.parse(text, mode="eval").body
    except SyntaxError:
        tree = _strip_assignment(text, targets, full_label, problems, normalisations)
    except (RecursionError, MemoryError, ValueError):
        problems.append(f"{full_label}: is nested too deeply to parse; split it into intermediate assignments")
        return None
    if tree is None:
        return None
    depth, size = _depth_and_size(tree)
    if depth > MAX_DEPTH or size > MAX_NODES:
        problems.append(
            f"{full_label}: is too complex (depth {depth}, {size} nodes; limits {MAX_DEPTH} and {MAX_NODES}); split "
            "it into intermediate assignments in updates"
        )
        return None
    before = len(problems)
    normalised = _Normaliser(full_label, declared, problems, normalisations).visit(tree)
    if len(problems) > before:
        return None
    return ParsedExpression(full_label, normalised, ast.unparse(normalised))
