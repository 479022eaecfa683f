"""``emit_python``: a spec as a standalone, readable Python module (numpy + gymnasium only).

The module defines one ``gymnasium.Env`` subclass, registers it under the spec's id (with ``max_episode_steps`` and,
when known, ``reward_threshold``) and, run as a script (``python env.py``), plays one random episode and prints it.

Agent-written text (a variable's description, the spec id) only ever reaches comments and docstrings after
:func:`_inert_text` made it one line without quotes or backslashes, and the emitted source is parsed again and its
structure checked (:func:`_check_structure`) before it is returned: no spec, however written, can add code to
``env.py``.
"""

from __future__ import annotations

import ast
import math
import re
import unicodedata

import gymnasium as gym

from alamp.schema.env_spec import EnvSpec
from alamp.spec.analysis import ACTION_NAME, Program, Step, analyse
from alamp.spec.codegen import EmitWriter
from alamp.spec.errors import SpecError

__all__ = ["emit_python"]

# names the emitted step function uses itself; spec names equal to one of them get a trailing underscore
_RESERVED = {"np", "gym", "spaces", "self", "action", "math", "float", "int", "bool", "state", "reward", "terminated",
             "truncated", "info", "obs", "error"}

# Attributes a constant must not overwrite: everything ``gymnasium.Env`` has (``np_random``, ``action_space``,
# ``spec``, ``unwrapped``, ...) and what the emitted class defines itself.
_OWN_ATTRIBUTES = {"state_names", "action_names", "max_steps", "reward_threshold", "state", "steps", "render_mode",
                   "observation_space", "action_space", "metadata", "set_state", "get_state", "_transition",
                   "_observation", "reset", "step", "close", "render"}
_ENV_ATTRIBUTES = frozenset(_OWN_ATTRIBUTES | {name for name in dir(gym.Env)})

# The methods the emitted class has, and the only top-level statements the module may hold (checked on the AST).
_METHODS = ("__init__", "reset", "step", "_transition", "_observation", "set_state", "get_state")
_TEXT_LIMIT = 200


def _class_name(env_id: str) -> str:
    base = env_id.split("/")[-1]
    base = re.sub(r"-v\d+$", "", base)
    words = re.split(r"[^0-9a-zA-Z]+", base)
    name = "".join(w[:1].upper() + w[1:] for w in words if w) or "Generated"
    if name[0].isdigit():
        name = "Env" + name
    return name if name.endswith("Env") else name + "Env"


def _indent(lines: list[str], spaces: int) -> list[str]:
    return [" " * spaces + line if line else line for line in lines]


def emit_python(spec: EnvSpec | dict | str, *, reward_threshold: float | None = None) -> str:
    """Write a spec out as a standalone Python module defining a ``gymnasium.Env`` subclass.

    The module needs only numpy and gymnasium. Its class has ``reset``, ``step``, ``set_state`` and
    ``get_state``, keeps the spec's constants as attributes and its updates as readable assignments, and follows
    the compiled env's semantics (including terminating an episode on a numerical error). Importing it registers
    the spec's id with gymnasium (``gym.make(id)`` then works; an id already registered is left alone); running it
    as a script plays one random episode and prints it (its first 20 steps and its last).

    Args:
        spec: The spec (``EnvSpec``, dict or JSON); it is checked first.
        reward_threshold: The mean return that counts as solved, registered with the id (None: unknown).

    Returns:
        The module source.

    Raises:
        SpecError: If the spec does not compile, or the emitted module would not have the expected structure.
    """
    program = analyse(spec)
    if reward_threshold is not None and not math.isfinite(float(reward_threshold)):
        raise SpecError([f"reward_threshold={reward_threshold!r} must be a finite number (or None)"])
    source = _Emitter(program, reward_threshold=reward_threshold).module()
    _check_structure(source)
    return source


def _gym_id(spec_id: str) -> str:
    """The spec's id if gymnasium accepts it, else the nearest id it does (``alamp/Odd names-v3`` ->
    ``alamp/Oddnames-v3``): env.py registers its class under it."""
    try:
        gym.envs.registration.parse_env_id(spec_id)
        return spec_id
    except gym.error.Error:
        pass
    namespace, _, name = spec_id.rpartition("/")
    version = re.search(r"-v(\d+)$", name)
    name = name[: version.start()] if version else name
    namespace = re.sub(r"[^\w:.-]", "", namespace)
    name = re.sub(r"[^\w.-]", "", name).strip("-") or "Generated"
    candidate = f"{namespace + '/' if namespace else ''}{name}-v{version.group(1) if version else 0}"
    try:
        gym.envs.registration.parse_env_id(candidate)
        return candidate
    except gym.error.Error:
        return "alamp/Generated-v0"


def _inert_text(text: object, *, limit: int = _TEXT_LIMIT) -> str:
    """Agent-written text made safe for a comment or a docstring: one line, no quotes, no backslashes.

    Every control, format, line- and paragraph-separator character becomes a space (a newline in a comment would
    start a line of code), quotes become apostrophes and backslashes slashes (so no docstring can be closed or a
    character escaped), and the text is cut to ``limit`` characters.
    """
    chars = []
    for char in str(text):
        category = unicodedata.category(char)
        if category[0] == "C" or category in ("Zl", "Zp") or (category == "Zs" and char != " "):
            chars.append(" ")
        elif char == '"':
            chars.append("'")
        elif char == "\\":
            chars.append("/")
        else:
            chars.append(char)
    line = re.sub(r" {2,}", " ", "".join(chars)).strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _check_structure(source: str) -> None:
    """Refuse a module that is not exactly what the emitter writes: docstring, imports, the class, its
    registration and the ``__main__`` block; a class with exactly the emitter's methods.

    Raises:
        SpecError: If the source does not parse or has another shape (then text escaped from a comment).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise SpecError([f"the emitted env.py does not parse ({exc.msg}, line {exc.lineno}); please report this"]) \
            from exc
    kinds = [type(node).__name__ for node in tree.body]
    expected = ["Expr", "ImportFrom", "Import", "Import", "ImportFrom", "Assign", "ClassDef", "If", "If"]
    problems = []
    if kinds != expected:
        problems.append(f"top-level statements {kinds}, expected {expected}")
    else:
        classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
        methods = [n.name for n in classes[0].body if isinstance(n, ast.FunctionDef)]
        others = [type(n).__name__ for n in classes[0].body if not isinstance(n, ast.FunctionDef | ast.Assign)]
        if tuple(methods) != _METHODS or len(others) != 1:  # the docstring is the one other statement
            problems.append(f"class body with methods {methods} and statements {others}")
        docstring = tree.body[0].value if isinstance(tree.body[0], ast.Expr) else None
        if not (isinstance(docstring, ast.Constant) and isinstance(docstring.value, str)):
            problems.append("the module docstring is not a plain string")
    if problems:
        raise SpecError([f"the emitted env.py has an unexpected structure ({'; '.join(problems)}); refused"])


class _Emitter:
    def __init__(self, program: Program, *, reward_threshold: float | None = None) -> None:
        self.program = program
        self.spec = program.spec
        self.reward_threshold = reward_threshold
        self.local = {name: (name + "_" if name in _RESERVED else name) for name in self._all_names()}
        self.attribute = self._constant_attributes()

    def _constant_attributes(self) -> dict[str, str]:
        """Constant -> attribute name: ``np_random`` stays the env's generator, the constant becomes ``np_random_``."""
        taken = set(_ENV_ATTRIBUTES) | set(self.spec.constants)
        attributes = {}
        for name in self.spec.constants:
            attribute = name
            if name in _ENV_ATTRIBUTES:
                while attribute in taken:
                    attribute += "_"
                taken.add(attribute)
            attributes[name] = attribute
        return attributes

    def _all_names(self) -> set[str]:
        spec = self.spec
        names = set(spec.constants) | {s.name for s in spec.state} | {d.name for d in spec.draws}
        names |= {u.target for u in spec.updates} | {u.target for a in spec.actions for u in a.updates}
        return names

    def writer(self, locals_: set[str]) -> EmitWriter:
        """Names in ``locals_`` are local variables; other spec constants are ``self.<name>``."""
        program = self.program

        def resolve(name: str) -> ast.expr:
            if name in locals_:
                return ast.Name(self.local[name], ast.Load())
            if name in program.spec.constants:
                return ast.Attribute(ast.Name("self", ast.Load()), self.attribute[name], ast.Load())
            if name == ACTION_NAME and name in program.builtins:
                return ast.Name("action", ast.Load())
            if name == "pi" and name in program.builtins:
                return ast.Attribute(ast.Name("np", ast.Load()), "pi", ast.Load())
            if name == "inf" and name in program.builtins:
                return ast.Attribute(ast.Name("np", ast.Load()), "inf", ast.Load())
            return ast.Name(self.local.get(name, name), ast.Load())

        return EmitWriter(resolve)

    def assign(self, step: Step, locals_: set[str], comment: str = "") -> str:
        text = f"{self.local[step.target]} = {self.writer(locals_)(step.tree)}"
        comment = _inert_text(comment)
        return text + (f"  # {comment}" if comment else "")

    def module(self) -> str:
        spec = self.spec
        program = self.program
        class_name = _class_name(spec.id)
        names = [s.name for s in spec.state]
        state_locals = ", ".join(self.local[n] for n in names)
        obs_low = [s.low for s in spec.state]
        obs_high = [s.high for s in spec.state]
        by_name = {s.name: s for s in spec.state}
        if [getattr(step.tree, "id", None) for step in program.observation] != names:
            obs_low = [by_name[step.tree.id].low if isinstance(step.tree, ast.Name) and step.tree.id in by_name
                       else -math.inf for step in program.observation]
            obs_high = [by_name[step.tree.id].high if isinstance(step.tree, ast.Name) and step.tree.id in by_name
                        else math.inf for step in program.observation]

        def floats(values: list[float]) -> str:
            return "[" + ", ".join("np.inf" if v == math.inf else "-np.inf" if v == -math.inf else repr(float(v))
                                   for v in values) + "]"

        threshold = None if self.reward_threshold is None else float(self.reward_threshold)
        out: list[str] = [
            f'"""{class_name}: generated by alamp from the environment spec {_inert_text(spec.id)}.',
            "",
            "Standalone: needs only numpy and gymnasium. Edit freely. Importing this file registers the id below with",
            "gymnasium (gym.make(ENV_ID) then works); `python env.py` plays one random episode and prints it.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "import numpy as np",
            "import gymnasium as gym",
            "from gymnasium import spaces",
            "",
            f"ENV_ID = {_gym_id(spec.id)!r}",
            "",
            "",
            f"class {class_name}(gym.Env):",
            f'    """State: {", ".join(names)}. Actions: '
            + ", ".join(f"{i} = {a.name}" for i, a in enumerate(spec.actions))
            + '."""',
            "",
            '    metadata = {"render_modes": []}',
            f"    state_names = {names!r}",
            f"    action_names = {[a.name for a in spec.actions]!r}",
            f"    max_steps = {int(spec.max_steps)}",
            f"    reward_threshold = {threshold!r}",
            "",
            "    def __init__(self, render_mode=None):",
            "        self.render_mode = render_mode",
        ]
        for name, value in spec.constants.items():
            attribute = self.attribute[name]
            renamed = f"  # the spec's constant {name}, renamed: the env has its own" if attribute != name else ""
            out.append(f"        self.{attribute} = {_number(value)}{renamed}")
        out += [
            f"        self.observation_space = spaces.Box(np.array({floats(obs_low)}, dtype=np.float32),",
            f"                                            np.array({floats(obs_high)}, dtype=np.float32), "
            "dtype=np.float32)",
            f"        self.action_space = spaces.Discrete({len(spec.actions)})",
            "        self.state = None",
            "        self.steps = 0",
            "",
            "    def reset(self, *, seed=None, options=None):",
            "        super().reset(seed=seed)",
        ]
        init_locals: set[str] = set()
        for step, var in zip(program.init, spec.state, strict=True):
            out.append("        " + self.assign(step, init_locals, var.description))
            init_locals.add(step.target)
        out += [
            f"        self.state = np.array([{state_locals}], dtype=np.float64)",
            "        self.steps = 0",
            "        return self._observation(), {}",
            "",
            "    def step(self, action):",
            "        if not self.action_space.contains(action):",
            f'            raise ValueError(f"action {{action!r}} is not an integer in 0..{len(spec.actions) - 1}")',
            "        action = int(action)",
            "        info = {}",
            '        with np.errstate(all="ignore"):',
            "            try:",
            "                state, reward, terminated = self._transition(action)",
            "                state = np.array(state, dtype=np.float64)",
            "                reward = float(reward)",
            "                error = not (np.isfinite(state).all() and np.isfinite(reward))",
            "            except (ArithmeticError, ValueError, TypeError) as exc:",
            "                state, reward, terminated, error = self.state, 0.0, True, exc",
            "        if error is not False:",
            '            # numerical trouble (division by zero, overflow, nan): end the episode instead of crashing',
            '            info["numerical_error"] = f"numerical error in the step ({error}); episode terminated"',
            "            reward = reward if np.isfinite(reward) else 0.0",
            "            terminated = True",
            "        self.state = state",
            "        self.steps += 1",
            "        truncated = self.steps >= self.max_steps",
            "        return self._observation(), reward, bool(terminated), truncated, info",
            "",
            "    def _transition(self, action):",
            '        """One step from self.state: returns (next state, reward, terminated)."""',
            f"        {state_locals}, = self.state",
        ]
        body: list[str] = []
        locals_ = set(names)
        for step in program.draws:
            body.append(self.assign(step, locals_, "random draw"))
            locals_.add(step.target)
        if program.action_targets and any(a.updates for a in program.actions):
            for target in program.constant_overrides:
                body.append(f"{self.local[target]} = self.{target}  # default for actions that do not set it")
            for i, action in enumerate(program.actions):
                body.append(f"{'if' if i == 0 else 'elif'} action == {i}:  # {action.name}")
                action_locals = set(locals_)
                for step in action.updates:
                    body.append("    " + self.assign(step, action_locals))
                    action_locals.add(step.target)
                if not action.updates:
                    body.append("    pass")
            locals_ |= set(program.action_targets)
        for step in program.updates:
            body.append(self.assign(step, locals_))
            locals_.add(step.target)
        for step in program.clips:
            body.append(self.assign(step, locals_, "keep within bounds"))
        write = self.writer(locals_)
        body.append(f"reward = {write(program.reward.tree)}")
        conditions = [f"({write(step.tree)})" for step in program.terminated]
        body.append(f"terminated = {' or '.join(conditions) if conditions else 'False'}")
        body.append(f"return ({state_locals},), reward, terminated")
        out += _indent(body, 8)
        obs_writer = self.writer(set(names))
        observation = ", ".join(obs_writer(step.tree) for step in program.observation)
        out += [
            "",
            "    def _observation(self):",
            f"        {state_locals}, = self.state",
            '        with np.errstate(all="ignore"):',
            f"            obs = np.array([{observation}], dtype=np.float32)",
            "        return np.nan_to_num(obs, posinf=np.finfo(np.float32).max, neginf=np.finfo(np.float32).min)",
            "",
            "    def set_state(self, values):",
            '        """Set the state from values in the order of state_names."""',
            "        values = np.asarray(values, dtype=np.float64).reshape(-1)",
            "        if values.shape != (len(self.state_names),):",
            '            raise ValueError(f"set_state needs {len(self.state_names)} values: {self.state_names}")',
            "        self.state = values.copy()",
            "",
            "    def get_state(self):",
            "        return np.array(self.state, dtype=np.float64)",
            "",
            "",
            "# gym.make(ENV_ID) builds this class with its time limit (an id registered before is left alone)",
            "if ENV_ID not in gym.registry:",
            f"    gym.register(id=ENV_ID, entry_point={class_name}, max_episode_steps={class_name}.max_steps,",
            f"                 reward_threshold={class_name}.reward_threshold)",
            "",
            'if __name__ == "__main__":',
            "    env = gym.make(ENV_ID)",
            "    obs, _ = env.reset(seed=0)",
            '    print(f"{ENV_ID}: one random episode (seed 0)")',
            '    print(f"start  obs={[round(float(v), 4) for v in obs]}")',
            "    total, steps, done, shown = 0.0, 0, False, 20",
            "    while not done:",
            "        action = int(env.action_space.sample())",
            "        obs, reward, terminated, truncated, info = env.step(action)",
            "        total, steps, done = total + float(reward), steps + 1, terminated or truncated",
            "        if steps <= shown or done:",
            f"            name = {class_name}.action_names[action]",
            '            end = " terminated" if terminated else " truncated" if truncated else ""',
            '            values = [round(float(v), 4) for v in obs]',
            '            print(f"step {steps:<4} action={name:<16} reward={float(reward):<10.4g} obs={values}{end}")',
            "        elif steps == shown + 1:",
            '            print("...")',
            '    print(f"return of the random episode: {total:.4g} in {steps} steps")',
        ]
        return "\n".join(out) + "\n"


def _number(value: float) -> str:
    if math.isinf(value):
        return "np.inf" if value > 0 else "-np.inf"
    return repr(float(value))
