"""Typeset the model's expressions as mathematics: presentation MathML for HTML, LaTeX for Markdown.

The agents write Python-like text (``theta_next = theta + tau*theta_dot``, ``abs(x) > x_threshold or done``). It is
parsed with :mod:`ast` (Python's own grammar: precedence, chained comparisons, ``and``/``or``/``not`` and ``a if c
else b`` come out right, which a string rewrite for sympy's ``parse_expr`` gets wrong) and turned into an
*unevaluated* sympy expression, so the typeset form keeps the author's order of terms. sympy's printers then write
MathML (:class:`sympy.printing.mathml.MathMLPresentationPrinter`, which browsers render natively) and LaTeX.

Names are typeset the way a paper writes them: ``theta`` → θ, ``theta_dot`` → θ̇, ``x_ddot`` → ẍ, ``x_next`` (and
the other next-value suffixes of :data:`alamp.schema._names.NEXT_VALUE_SUFFIXES`) → x′, ``x_threshold`` →
x\\ :sub:`threshold`; a name of several words (``pole_mass_length``) stays one upright word. Every name maps to its
own symbol, so no name can collide with a sympy builtin (``gamma``, ``E``, ``S``, ``beta``).

Text that is not an expression (prose, a formula in unicode notation) is not an error: :func:`typeset` returns it
with ``mathml`` and ``latex`` set to None and the caller shows it as code text.
"""

from __future__ import annotations

import ast
import html
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from alamp.schema._names import NEXT_VALUE_SUFFIXES

__all__ = ["Typeset", "typeset", "typeset_assignment", "symbol_parts"]

_ACCENTS = {"dot": ("\u02d9", r"\dot"), "ddot": ("\u00a8", r"\ddot"), "dddot": ("\u20db", r"\dddot")}
_GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi "
    "chi psi omega"
).split()
_MAX_CHARS = 1500

# Functions shown with their mathematical form; any other call is typeset as an upright function name.
_SYMPY_FUNCTIONS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh", "exp": "exp", "log": "log", "sqrt": "sqrt",
    "abs": "Abs", "floor": "floor", "ceil": "ceiling", "sign": "sign",
    "arcsin": "asin", "arccos": "acos", "arctan": "atan", "atan2": "atan2",
}  # fmt: skip


@dataclass(frozen=True)
class Typeset:
    """One expression in three forms.

    Attributes:
        source: The text as written.
        mathml: A ``<math>`` element (presentation MathML), or None when the text did not parse.
        latex: The same in LaTeX (no ``$``), or None when the text did not parse.
    """

    source: str
    mathml: str | None
    latex: str | None

    @property
    def parsed(self) -> bool:
        """Whether the text was typeset (else show ``source`` as code)."""
        return self.mathml is not None

    def html(self, *, display: bool = False) -> str:
        """MathML when parsed, else the source as ``<code>``.

        Args:
            display: Typeset in display style (full-size fractions), still inline so it aligns left.
        """
        if self.mathml is None:
            return f'<code class="unparsed">{html.escape(self.source)}</code>'
        return self.mathml.replace("<math ", '<math displaystyle="true" ', 1) if display else self.mathml

    def markdown(self) -> str:
        """``$latex$`` when parsed, else the source as inline code."""
        if self.latex is None:
            return "`" + self.source.replace("`", "'") + "`"
        return f"${self.latex}$"


def symbol_parts(name: str) -> tuple[str, str | None, bool, list[str]]:
    """How a name is typeset: ``(base, accent, prime, subscripts)``.

    ``accent`` is ``dot``, ``ddot``, ``dddot`` or None; ``prime`` marks a next-step value. A name of three or more
    words that is not a greek letter with subscripts stays whole (``pole_mass_length``).

    Examples:
        ``theta_dot_next`` → ``("theta", "dot", True, [])``; ``x_threshold`` → ``("x", None, False, ["threshold"])``.
    """
    prime = False
    for suffix in NEXT_VALUE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name, prime = name[: -len(suffix)], True
            break
    words = [w for w in name.split("_") if w]
    if not words:
        return name, None, prime, []
    accent = None
    if len(words) > 1 and words[-1] in _ACCENTS:
        accent = words.pop()
    base, subs = words[0], words[1:]
    if len(subs) > 1 and len(base) > 1 and base not in _GREEK:
        base, subs = "_".join(words), []
    return base, accent, prime, subs


def _greek_unicode(word: str) -> str:
    from sympy.printing.pretty.pretty_symbology import greek_unicode

    return greek_unicode.get(word, word)


def _latex_word(word: str) -> str:
    if word in _GREEK:
        return "o" if word == "omicron" else "\\" + word
    if word.capitalize() in ("Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi",
                             "Omega") and word[0].isupper():  # fmt: skip
        return "\\" + word
    escaped = word.replace("_", r"\_")
    return escaped if len(word) == 1 else rf"\mathrm{{{escaped}}}"


def _latex_symbol(name: str) -> str:
    base, accent, prime, subs = symbol_parts(name)
    out = _latex_word(base)
    if accent:
        out = rf"{_ACCENTS[accent][1]}{{{out}}}"
    if subs:
        out += "_{" + ",".join(_latex_word(s) for s in subs) + "}"
    if prime:
        out = "{" + out + "}'"
    return out


# Logical connectives and ``a if c else b`` become these (undefined) functions, not sympy's And/Or/Piecewise:
# those sort their arguments and insist on boolean ones, and a typeset condition should read as it was written.
_ALL_OF, _ANY_OF, _NEGATION, _CASES, _CHAIN = "AllOf", "AnyOf", "Negation", "Cases", "Chain"
_CONNECTIVES = {_ALL_OF: ("\u2227", r"\wedge"), _ANY_OF: ("\u2228", r"\vee")}
_UPRIGHT_LATEX = {"min": r"\min", "max": r"\max", "clip": r"\operatorname{clip}"}



def _connective_child(e: Any) -> bool:
    """Whether an argument of a connective needs parentheses (another connective inside it)."""
    return type(e).__name__ in _CONNECTIVES


@lru_cache(maxsize=1)
def _printers() -> tuple[type, type]:
    """The MathML and LaTeX printer classes (built once: importing sympy's printers takes a moment)."""
    from sympy.printing.latex import LatexPrinter
    from sympy.printing.mathml import MathMLPresentationPrinter

    class _MathML(MathMLPresentationPrinter):
        """sympy's presentation printer with alamp's names, escaped operators, connectives and cases."""

        def _text(self, tag: str, text: str, **attributes: str) -> Any:
            node = self.dom.createElement(tag)
            for key, value in attributes.items():
                node.setAttribute(key, value)
            # sympy's DOM writes text raw (so its entities stay entities); escape what must not be raw.
            node.appendChild(self.dom.createTextNode(html.escape(text, quote=False)))
            return node

        def _row(self, *children: Any) -> Any:
            row = self.dom.createElement("mrow")
            for child in children:
                row.appendChild(child)
            return row

        def mathml_tag(self, e: Any) -> str:
            tag = super().mathml_tag(e)
            return {"<": "&lt;", ">": "&gt;", "<=": "&#x2264;", ">=": "&#x2265;"}.get(tag, tag)

        def _print_Symbol(self, sym: Any, style: str = "plain") -> Any:
            base, accent, prime, subs = symbol_parts(sym.name)
            node = self._text("mi", _greek_unicode(base))
            if accent:
                node = self._wrap_in("mover", node, self._text("mo", _ACCENTS[accent][0]), accent="true")
            if subs:
                node = self._wrap_in("msub", node, self._text("mi", ",".join(_greek_unicode(w) for w in subs)))
            if prime:  # the prime glyph already sits high: a superscript would raise and shrink it twice
                node = self._row(node, self._text("mo", "\u2032", lspace="0", rspace="0"))
            return node

        def _wrap_in(self, tag: str, *children: Any, **attributes: str) -> Any:
            node = self.dom.createElement(tag)
            for key, value in attributes.items():
                node.setAttribute(key, value)
            for child in children:
                node.appendChild(child)
            return node

        def _print_Function(self, e: Any) -> Any:
            name = type(e).__name__
            if name in _CONNECTIVES:
                row = self.dom.createElement("mrow")
                for i, arg in enumerate(e.args):
                    if i:
                        row.appendChild(self._text("mo", _CONNECTIVES[name][0]))
                    inner = self._print(arg)
                    row.appendChild(self._fenced([inner]) if _connective_child(arg) else inner)
                return row
            if name == _NEGATION:
                inner = self._print(e.args[0])
                return self._row(self._text("mo", "\u00ac"), self._fenced([inner]) if e.args[0].args else inner)
            if name == _CASES:
                return self._cases(*e.args)
            if name == _CHAIN:  # a < b <= c: each comparison after the first shows only its operator and right side
                row = self._row(self._print(e.args[0]))
                for rel in e.args[1:]:
                    row.appendChild(self._operator(rel))
                    row.appendChild(self._print(rel.rhs))
                return row
            # Any other function (clip, uniform, max, ...): its name upright, then the arguments in parentheses.
            return self._row(
                self._text("mi", name, mathvariant="normal"),
                self._text("mo", "\u2061"),  # function application (invisible)
                self._fenced([self._print(a) for a in e.args]),
            )

        def _operator(self, rel: Any) -> Any:
            node = self.dom.createElement("mo")
            node.appendChild(self.dom.createTextNode(self.mathml_tag(rel)))  # already escaped
            return node

        def _fenced(self, items: list[Any]) -> Any:
            row = self._row(self._text("mo", "("))
            for i, item in enumerate(items):
                if i:
                    row.appendChild(self._text("mo", ","))
                row.appendChild(item)
            row.appendChild(self._text("mo", ")"))
            return row

        def _cases(self, value: Any, condition: Any, otherwise: Any) -> Any:
            table = self.dom.createElement("mtable")
            table.setAttribute("columnalign", "left left")
            first = self._row(self._text("mtext", "if\u00a0"), self._print(condition))
            rows = ((self._print(value), first), (self._print(otherwise), self._text("mtext", "otherwise")))
            for left, right in rows:
                table.appendChild(self._wrap_in("mtr", self._wrap_in("mtd", left), self._wrap_in("mtd", right)))
            return self._row(self._text("mo", "{"), table)

    class _Latex(LatexPrinter):
        """sympy's LaTeX printer with the same connectives, cases and function names."""

        def _print_Function(self, e: Any, exp: Any = None) -> str:
            name = type(e).__name__
            if name in _CONNECTIVES:
                parts = [
                    rf"\left({self._print(a)}\right)" if _connective_child(a) else self._print(a) for a in e.args
                ]
                return f" {_CONNECTIVES[name][1]} ".join(parts)
            if name == _CHAIN:
                text = self._print(e.args[0])
                for rel in e.args[1:]:
                    text += " " + self._print(rel).split(self._print(rel.lhs), 1)[1].strip()
                return text
            if name == _NEGATION:
                inner = self._print(e.args[0])
                return rf"\neg \left({inner}\right)" if e.args[0].args else rf"\neg {inner}"
            if name == _CASES:
                value, condition, otherwise = (self._print(a) for a in e.args)
                return (
                    rf"\begin{{cases}} {value} & \text{{if }} {condition} \\ "
                    rf"{otherwise} & \text{{otherwise}} \end{{cases}}"
                )
            if name in _UPRIGHT_LATEX or name not in _SYMPY_FUNCTIONS:
                command = _UPRIGHT_LATEX.get(name, rf"\operatorname{{{name}}}")
                out = command + r"\left(" + ", ".join(self._print(a) for a in e.args) + r"\right)"
                return f"{out}^{{{exp}}}" if exp is not None else out
            return super()._print_Function(e, exp)

    return _MathML, _Latex


class _Unsupported(ValueError):
    """The text uses a construct this typesetter does not draw (shown as code text instead)."""


class _ToSympy:
    """An :mod:`ast` expression → an unevaluated sympy expression."""

    def __init__(self) -> None:
        import sympy

        self.sp = sympy
        self.symbols: dict[str, Any] = {}

    def symbol(self, name: str) -> Any:
        if name not in self.symbols:
            self.symbols[name] = self.sp.Symbol(name)
        return self.symbols[name]

    def __call__(self, node: ast.AST) -> Any:
        sp = self.sp
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return sp.true if node.value else sp.false
            if isinstance(node.value, int):
                return sp.Integer(node.value)
            if isinstance(node.value, float):
                return sp.Float(repr(node.value)) if not node.value.is_integer() else sp.Integer(int(node.value))
            raise _Unsupported(f"constant {node.value!r}")
        if isinstance(node, ast.Name):
            return {"True": sp.true, "False": sp.false, "pi": sp.pi}.get(node.id) or self.symbol(node.id)
        if isinstance(node, ast.Attribute):  # np.pi, math.sin(...): the attribute names the thing
            return sp.pi if node.attr == "pi" else self.symbol(node.attr)
        if isinstance(node, ast.Subscript):  # p[2]: an indexed quantity, typeset p_2
            if isinstance(node.value, ast.Name) and isinstance(node.slice, ast.Constant | ast.Name):
                index = node.slice.value if isinstance(node.slice, ast.Constant) else node.slice.id
                return self.symbol(f"{node.value.id}_{index}")
            raise _Unsupported("subscript")
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.UnaryOp):
            operand = self(node.operand)
            if isinstance(node.op, ast.USub):
                if isinstance(operand, sp.Number):
                    return -operand
                return sp.Mul(sp.Integer(-1), operand, evaluate=False)
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(node.op, ast.Not):
                return sp.Function(_NEGATION)(operand)
            raise _Unsupported("unary operator")
        if isinstance(node, ast.Compare):
            parts, left = [], self(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = self(right_node)
                parts.append(self._compare(op, left, right))
                left = right
            return parts[0] if len(parts) == 1 else sp.Function(_CHAIN)(*parts)  # 0 <= x <= 10 as written
        if isinstance(node, ast.BoolOp):
            name = _ALL_OF if isinstance(node.op, ast.And) else _ANY_OF
            return sp.Function(name)(*(self(v) for v in node.values))
        if isinstance(node, ast.IfExp):
            return sp.Function(_CASES)(self(node.body), self(node.test), self(node.orelse))
        if isinstance(node, ast.Call):
            return self._call(node)
        raise _Unsupported(type(node).__name__)

    def _binop(self, node: ast.BinOp) -> Any:
        sp = self.sp
        left, right = self(node.left), self(node.right)
        op = node.op
        # A left operand of the same kind is flattened: a - b - c prints as written, not as (a - b) - c.
        if isinstance(op, ast.Add | ast.Sub):
            terms = [*(left.args if isinstance(left, sp.Add) else (left,))]
            if isinstance(op, ast.Sub):
                right = -right if isinstance(right, sp.Number) else sp.Mul(sp.Integer(-1), right, evaluate=False)
            return sp.Add(*terms, right, evaluate=False)
        if isinstance(op, ast.Mult):
            return sp.Mul(*(left.args if isinstance(left, sp.Mul) else (left,)), right, evaluate=False)
        if isinstance(op, ast.Div):
            return sp.Mul(left, sp.Pow(right, sp.Integer(-1), evaluate=False), evaluate=False)
        if isinstance(op, ast.Pow):
            return sp.Pow(left, right, evaluate=False)
        if isinstance(op, ast.FloorDiv):
            return sp.floor(sp.Mul(left, sp.Pow(right, sp.Integer(-1), evaluate=False), evaluate=False),
                            evaluate=False)  # fmt: skip
        if isinstance(op, ast.Mod):
            return sp.Mod(left, right, evaluate=False)
        raise _Unsupported(type(op).__name__)

    def _compare(self, op: ast.cmpop, left: Any, right: Any) -> Any:
        ops = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
        symbol = ops.get(type(op))
        if symbol is None:
            raise _Unsupported(type(op).__name__)
        return self.sp.Rel(left, right, symbol, evaluate=False)

    def _call(self, node: ast.Call) -> Any:
        sp = self.sp
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name is None:
            raise _Unsupported("call")
        args = [self(a) for a in node.args] + [self(k.value) for k in node.keywords]
        target = _SYMPY_FUNCTIONS.get(name)
        if target is not None:
            try:
                return getattr(sp, target)(*args, evaluate=False)
            except (TypeError, ValueError):
                pass  # wrong arity for the maths function: show it as written
        if not name.isidentifier():
            raise _Unsupported("call")
        return sp.Function(name)(*args)


def _statement(text: str) -> tuple[str | None, str, str]:
    """``(target, operator, expression)``: ``x_next = x + 1`` → ``("x_next", "=", "x + 1")``; an expression alone
    has no target. Augmented assignments keep their operator (``+=``)."""
    match = re.fullmatch(r"\s*([A-Za-z_]\w*(?:\[\w+\])?)\s*([-+*/]?=)(?!=)\s*(.+)", text, flags=re.S)
    if match:
        return match.group(1), match.group(2), match.group(3)
    match = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*'\s*=(?!=)\s*(.+)", text, flags=re.S)  # x' = ...
    if match:
        return match.group(1) + "_next", "=", match.group(2)
    return None, "", text


def _expression(text: str, convert: _ToSympy) -> Any:
    if len(text) > _MAX_CHARS:
        raise _Unsupported("too long")
    # x^2 is how people write a power; Python would read it as xor, with the wrong precedence.
    tree = ast.parse(text.strip().replace("^", "**"), mode="eval")
    return convert(tree.body)


def _render(expr: Any) -> tuple[str, str]:
    mathml_printer, latex_printer = _printers()
    # order="none": keep the author's order of terms (the default sorts them).
    inner = mathml_printer({"mul_symbol": "dot", "order": "none"}).doprint(expr)
    symbols = {s: _latex_symbol(s.name) for s in expr.free_symbols}
    return inner, latex_printer({"symbol_names": symbols, "mul_symbol": "dot", "order": "none"}).doprint(expr)


def _wrap(inner: str) -> str:
    # A true minus sign (sympy writes a hyphen), also in front of a negative number.
    inner = inner.replace("<mo>-</mo>", "<mo>\u2212</mo>")
    inner = re.sub(r"<mn>-([^<]*)</mn>", "<mrow><mo>\u2212</mo><mn>\\1</mn></mrow>", inner)
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML">{inner}</math>'


def typeset(text: str) -> Typeset:
    """Typeset an expression, a condition or an equation (``x_next = ...``, ``x += 1``, ``x' = ...``).

    Args:
        text: As an agent wrote it.

    Returns:
        The :class:`Typeset`; ``mathml`` and ``latex`` are None when the text is not an expression this can parse.
    """
    source = str(text)
    target, operator, body = _statement(source)
    try:
        convert = _ToSympy()
        rhs = _expression(body, convert)
        if target is None:
            mathml, latex = _render(rhs)
            return Typeset(source=source, mathml=_wrap(mathml), latex=latex)
        lhs = _expression(target, convert)
        if operator != "=":  # x += e reads as x ← x + e
            binop = {"+=": ast.Add(), "-=": ast.Sub(), "*=": ast.Mult(), "/=": ast.Div()}[operator]
            rhs = convert(ast.BinOp(left=ast.parse(target, mode="eval").body, op=binop,
                                    right=ast.parse(body.strip().replace("^", "**"), mode="eval").body))  # fmt: skip
        return _equation(source, lhs, rhs, arrow=operator != "=")
    except (SyntaxError, ValueError, TypeError, RecursionError, AttributeError, _Unsupported):
        return Typeset(source=source, mathml=None, latex=None)


def _equation(source: str, lhs: Any, rhs: Any, *, arrow: bool) -> Typeset:
    lhs_mathml, lhs_latex = _render(lhs)
    rhs_mathml, rhs_latex = _render(rhs)
    mo, tex = ("\u2190", r"\leftarrow") if arrow else ("=", "=")
    return Typeset(
        source=source,
        mathml=_wrap(f"<mrow>{lhs_mathml}<mo>{mo}</mo>{rhs_mathml}</mrow>"),
        latex=f"{lhs_latex} {tex} {rhs_latex}",
    )


def typeset_assignment(target: str, expression: str) -> Typeset:
    """An update of the environment spec, ``target ← expression`` (the value replaces the old one in order)."""
    source = f"{target} = {expression}"
    try:
        convert = _ToSympy()
        return _equation(source, _expression(target, convert), _expression(expression, convert), arrow=True)
    except (SyntaxError, ValueError, TypeError, RecursionError, AttributeError, _Unsupported):
        return Typeset(source=source, mathml=None, latex=None)
