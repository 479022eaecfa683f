"""The description, read once: the text the agents read and everything the program takes from the text itself.

Every stage that needs something from the user's words (the plain-math text, the interface it states, the
constants and formulas it gives, the symbols its formulas use) receives one ``Description`` instead of re-reading
the raw string. Reading happens in :meth:`Description.read`, once per run.

The symbols matter most for the small model: offered the names the text itself uses (``g``, ``m``, ``l``, ``F``,
``T_in``), it copies the text's update lines; offered descriptive names (``gravity``, ``indoor_temp``), it still
writes the text's symbols, and nothing compiles (measured: 5 of 8 exact copies against 0 of 8).
"""

from __future__ import annotations

import ast
import copy
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from alamp.interface import StatedInterface, stated_interface
from alamp.mathtext import FORMULA_START, plain_math
from alamp.text_maps import with_map_cells
from alamp.text_step import TextStep, read_text_step, updated_name

__all__ = [
    "Description",
    "TextFunction",
    "action_effects_in_text",
    "formula_statements",
    "functions_in_text",
    "random_ranges_in_text",
    "reward_in_text",
    "symbols_in_text",
]

# Where a formula in running text may end: a comma or full stop followed by a space, a semicolon, a line end, or the
# closing parenthesis of a remark it sits in ("(the escapement E = biomass - catch) then grow", fishery_quota, train).
_FORMULA_END = re.compile(r",(?=\s)|;|\n|\.(?=\s|$)|\)(?=[\s,.;]|$)|$")
_MAX_FORMULA_CHARS = 400

_NUMBER = r"-?\d+(?:\.\d+)?"
# A range's bound: a number, or a multiple of pi ("[-pi, pi)", "[0, 2*pi]"; pendulum_swingup, dev).
_BOUND = r"-?(?:\d+(?:\.\d+)?(?:\s*\*?\s*pi\b)?|pi\b)"
# "uniform between 0.05 and 0.2", "drawn uniformly from [-0.1, 0.1] m", "~ U(18, 32)", "uniform in [15, 20]": the
# range follows the word within a short clause (no full stop, no line end in between).
_RANDOM_RANGE = re.compile(
    r"(?:\buniform(?:ly)?\b|\bU(?=[(\[]))[^.\n]{0,40}?"
    rf"(?:between\s+({_BOUND})\s*[^\s\d.,]*\s+and\s+({_BOUND})|[(\[]\s*({_BOUND})\s*,\s*({_BOUND})\s*[)\]])"
)


def _bound(text: str) -> float:
    """``-2``, ``0.5``, ``pi``, ``-2*pi``, ``2 pi`` as a number."""
    text = text.replace(" ", "").replace("*", "")
    if not text.endswith("pi"):
        return float(text)
    factor = {"": 1.0, "-": -1.0}.get(text[:-2])
    return (float(text[:-2]) if factor is None else factor) * math.pi


def random_ranges_in_text(plain: str) -> list[tuple[float, float]]:
    """The ranges the text says a quantity is drawn uniformly from, in order (``[(0.05, 0.2), (18.0, 32.0)]``).

    Ranges of two numbers or multiples of pi (``[-pi, pi)``); no other symbols. A range may be a start (the usual
    case) or a per-step draw; the reader says only that the text draws a number uniformly from it.
    """
    found: list[tuple[float, float]] = []
    for match in _RANDOM_RANGE.finditer(plain):
        low, high = (match.group(1), match.group(2)) if match.group(1) is not None else (match.group(3), match.group(4))
        pair = (_bound(low), _bound(high))
        if pair[0] < pair[1] and pair not in found:
            found.append(pair)
    return found


def _formula_names(text: str, functions: Mapping[str, TextFunction] | None = None) -> tuple[str, list[str]] | None:
    """An arithmetic formula with the text's own functions written out, and the names it reads (functions excluded),
    in order; None if ``text`` is no formula."""
    from alamp.spec.expr import FUNCTIONS

    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return None
    if functions:
        inlined = _Inline(functions).visit(tree)
        if ast.dump(inlined) != ast.dump(ast.parse(text, mode="eval")):
            tree = ast.fix_missing_locations(inlined)
            text = ast.unparse(tree)
            tree = ast.parse(text, mode="eval")  # fresh positions, for the order of the names below
    callees = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    if callees - set(FUNCTIONS):
        return None  # a call of something that is not a spec function: prose in parentheses, not maths
    names = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in callees]
    if any(isinstance(n, ast.Constant) and not isinstance(n.value, int | float) for n in ast.walk(tree)):
        return None
    ordered = sorted(names, key=lambda n: (n.lineno, n.col_offset))
    return text, list(dict.fromkeys(n.id for n in ordered))


@dataclass(frozen=True)
class TextFunction:
    """A function the text defines (``wrap(x) = ((x + pi) % (2*pi)) - pi``): its parameters and body."""

    params: tuple[str, ...]
    body: str


class _Inline(ast.NodeTransformer):
    """Calls of the text's own functions replaced by their bodies, the arguments put in for the parameters."""

    def __init__(self, functions: Mapping[str, TextFunction]) -> None:
        self.functions = functions

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        function = self.functions.get(node.func.id) if isinstance(node.func, ast.Name) else None
        if function is None or len(node.args) != len(function.params) or node.keywords:
            return node
        arguments = dict(zip(function.params, node.args, strict=True))

        class _Bind(ast.NodeTransformer):
            def visit_Name(self, name: ast.Name) -> ast.AST:
                return copy.deepcopy(arguments[name.id]) if name.id in arguments else name

        return _Bind().visit(ast.parse(function.body, mode="eval").body)


# "wrap(x) = ((x + pi) % (2*pi)) - pi", "sat(v, a) = max(-a, min(a, v))": a function the text defines.
_FUNCTION_DEFINITION = re.compile(
    r"(?<![\w.])([A-Za-z_]\w*)\(\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*\)\s*=(?!=)\s*"
)


def functions_in_text(plain: str) -> dict[str, TextFunction]:
    """The functions the plain-math text defines (``wrap(x) = ...``), by name; not the spec language's own.

    A formula that calls one is read with the call written out (``theta_next = wrap(theta + dt*theta_dot)`` ->
    ``theta_next = (theta + dt*theta_dot + pi) % (2*pi) - pi``), so the text's own lines stay usable.
    """
    from alamp.spec.expr import FUNCTIONS

    found: dict[str, TextFunction] = {}
    for match in _FUNCTION_DEFINITION.finditer(plain):
        name = match.group(1)
        if name in FUNCTIONS or name in found:
            continue
        body = _first_formula(plain[match.end() : match.end() + _MAX_FORMULA_CHARS])
        if body is not None:
            found[name] = TextFunction(params=tuple(p.strip() for p in match.group(2).split(",")), body=body[0])
    return found


def symbols_in_text(plain: str) -> list[str]:
    """The symbols the text's formulas use, in order of first appearance (targets and the names they read).

    ``plain`` is the plain-math form (``alamp.mathtext.plain_math``). A formula starts at ``name =`` and ends at the
    first comma, semicolon, full stop or line end after which it parses as arithmetic on names, numbers and the spec
    language's functions; updates (``x = x + tau*x_dot``) count as well as definitions. Single English words that
    happen to precede ``=`` in prose are kept only when they also appear inside some formula. Not ``pi`` or ``inf``,
    and not ``x_next`` / ``next_x`` beside ``x``: the next value of a quantity, not a quantity.
    """
    from alamp.spec.expr import BUILTIN_CONSTANTS

    found: list[str] = []
    for target, _, names in formula_statements(plain):
        found += [target, *names]
    ordered = list(dict.fromkeys(found))
    # pi is no quantity of the problem, and theta_next is theta's next value, not a quantity of its own: offered
    # them, the Variable agent made every symbol a state variable (pendulum_swingup, dev: pi, theta_next, g, l, m).
    return [
        s for s in ordered if s not in BUILTIN_CONSTANTS and updated_name(s, [o for o in ordered if o != s]) is None
    ]


def formula_statements(plain: str) -> list[tuple[str, str, list[str]]]:
    """Every ``target = formula`` the plain-math text states, in order: (target, formula, names the formula reads).

    Definitions (``temp = (F + m*l) / M``) and updates (``x = x + tau*x_dot``) alike; see ``symbols_in_text``.
    """
    statements = []
    functions = functions_in_text(plain)
    for match in FORMULA_START.finditer(plain):
        target, rest = match.group(1), plain[match.end() : match.end() + _MAX_FORMULA_CHARS]
        found = _first_formula(rest, functions)
        if found is not None:
            statements.append((target, *found))
    return statements


def _first_formula(rest: str, functions: Mapping[str, TextFunction] | None = None) -> tuple[str, list[str]] | None:
    """The formula at the start of ``rest`` and the names it reads: up to the first end (comma, semicolon, full stop,
    line end) where it parses; when it does not parse there, the longest run of words before that end that does
    (``h = q*E*B where q is ...``). Calls of the text's own ``functions`` are written out."""
    previous = 0
    for end in _FORMULA_END.finditer(rest):
        formula = rest[: end.start()].strip()
        read = _formula_names(formula, functions)
        if read is not None:
            return read
        cuts = [m.start() for m in re.finditer(r"\s+", rest[previous : end.start()])]
        for cut in sorted((previous + c for c in cuts), reverse=True):
            prefix = rest[:cut].strip()
            # Only arithmetic counts here: a bare word before prose ("it is = a fact") is no formula.
            read = _formula_names(prefix, functions) if re.search(r"[-+*/(]", prefix) else None
            if read and read[1]:
                return read
        previous = end.end()
    return None


# "the reward is -c", "reward = min(release, 8) - 3*spill", "Per step the reward is -abs(T_in - 21) - 0.5*P".
_REWARD_STATEMENT = re.compile(r"\breward\s*(?:is|=)\s*(?!=)", re.IGNORECASE)
# A remark in parentheses closing a formula: "- 0.5*P (discomfort plus energy price)".
_TRAILING_REMARK = re.compile(r"\s*\([A-Za-z][A-Za-z ,'-]*\)\s*$")


def reward_in_text(plain: str) -> str | None:
    """The reward as the plain-math text writes it (``the reward is -c``), or None.

    The formula must run to the end of its clause (a comma, semicolon, full stop or line end; a closing remark in
    parentheses is dropped): a formula cut short inside prose ("6*(admitted) - 1*(customers in the system)") would
    lose a term. None as well when the text writes two different rewards.
    """
    functions = functions_in_text(plain)
    found: set[str] = set()
    for match in _REWARD_STATEMENT.finditer(plain):
        rest = plain[match.end() : match.end() + _MAX_FORMULA_CHARS]
        for end in _FORMULA_END.finditer(rest):  # the first end where the clause parses ("min(r, 8)" has a comma)
            clause = _TRAILING_REMARK.sub("", rest[: end.start()].strip())
            read = _formula_names(clause, functions) if clause else None
            if read is not None:
                if read[1]:
                    found.add(read[0])
                break
    return next(iter(found)) if len(found) == 1 else None


# "push left (u = -5 N)", "D = 0.15": an action the text lists by the value it gives one quantity.
_STATED_EFFECT = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*=\s*([-+]?\d+(?:\.\d+)?)(?![\w.])")


def action_effects_in_text(stated: StatedInterface) -> tuple[str, ...]:
    """The effect of each action the text lists, when every listed action sets the same quantity to a number
    (``push left (u = -5 N), no push (u = 0), push right (u = +5 N)`` -> ``u = -5``, ``u = 0``, ``u = 5``); else ()."""
    effects, names = [], set()
    for item in stated.actions:
        found = _STATED_EFFECT.findall(item)
        if len(found) != 1:
            return ()
        name, value = found[0]
        names.add(name)
        effects.append(f"{name} = {value.lstrip('+')}")
    return tuple(effects) if len(names) == 1 and len(effects) >= 2 else ()


@dataclass(frozen=True)
class Description:
    """A decision problem's description, read once (see the module docstring).

    Attributes:
        original: The text as the user wrote it.
        text: What the agents read: ``original`` with its typeset mathematics in plain form when ``plain`` was on,
            and under each map it draws the cells of each mark (``alamp.text_maps``).
        own_text: ``text`` without the lines alamp adds under maps: the user's own words, where the numbers the text
            states are counted (``alamp.parameter_check``; the cells' coordinates are no constants).
        rewritten: Whether ``text`` differs from ``original``.
        stated: The controller's interface the text states (observation and action counts and lists).
        constants: Symbols the text gives one number (``M = 1.1``), as identifiers.
        formulas: Names the text defines by a formula, as expressions.
        action_symbols: Short symbols the text says stand for the chosen action.
        symbols: The symbols the text's formulas use, in order of first appearance.
        step: The update lines and random draws the text states (``alamp.text_step``).
        random_ranges: The ranges the text says a quantity is drawn uniformly from (``random_ranges_in_text``).
        no_early_end: The text says nothing ends an episode before its time limit (``says_no_early_end``).
        reward: The reward as the text writes it as a formula (``reward_in_text``), or None.
        action_effects: Each listed action's effect, when the text lists them by the value they give one quantity
            (``action_effects_in_text``).
    """

    original: str
    text: str
    own_text: str = ""
    rewritten: bool = False
    stated: StatedInterface = field(default_factory=StatedInterface)
    constants: dict[str, float] = field(default_factory=dict)
    formulas: dict[str, str] = field(default_factory=dict)
    action_symbols: frozenset[str] = frozenset()
    symbols: tuple[str, ...] = ()
    step: TextStep = field(default_factory=TextStep)
    random_ranges: tuple[tuple[float, float], ...] = ()
    no_early_end: bool = False
    reward: str | None = None
    action_effects: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.own_text:  # built directly (not read): the text is all the user's
            object.__setattr__(self, "own_text", self.text)

    @classmethod
    def read(cls, original: str, *, plain: bool = True) -> Description:
        """Read a description once.

        Args:
            original: The description as written.
            plain: Give the agents the plain-math form (``pipeline.plain_math``).

        Raises:
            alamp.description_check.DescriptionError: Empty, too long, or with control characters.
        """
        from alamp.assembly import action_symbols_in_text, constants_in_text, formulas_in_text, says_no_early_end
        from alamp.description_check import check_description

        original = check_description(original)  # bounded, UTF-8 text without control characters
        plain_text = plain_math(original)
        own_text = plain_text if plain else original
        text = with_map_cells(own_text)
        stated = stated_interface(own_text)
        return cls(
            original=original,
            text=text,
            own_text=own_text,
            rewritten=text != original,
            stated=stated,
            constants=constants_in_text(own_text),
            formulas=formulas_in_text(own_text),
            action_symbols=frozenset(action_symbols_in_text(own_text)),
            symbols=tuple(symbols_in_text(plain_text)),
            step=read_text_step(plain_text),
            random_ranges=tuple(random_ranges_in_text(plain_text)),
            no_early_end=says_no_early_end(own_text),
            reward=reward_in_text(own_text),
            action_effects=action_effects_in_text(stated),
        )

    @property
    def note(self) -> str:
        """The prediction's note about the text the agents read (empty when it is the original)."""
        if not self.rewritten:
            return ""
        what = []
        if self.own_text != self.original:
            what.append("its typeset mathematics in plain form (plain_math)")
        if self.text != self.own_text:
            what.append("the cells of each mark listed under the map it draws (text_maps)")
        return "the agents read the description with " + " and ".join(what)
