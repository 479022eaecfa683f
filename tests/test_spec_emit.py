"""``emit_python``: every gold spec's env.py stands alone (script, ``gym.make``, ``check_env``); names never collide
with gymnasium's attributes; no agent text can leave a comment or docstring."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from alamp.spec import SpecError, compile_spec, emit_python
from alamp.tasks import load_task, task_ids

TASK_IDS = task_ids()


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_every_gold_env_py_runs_as_a_script_through_gym_make_and_check_env(task_id: str, tmp_path: Path) -> None:
    task = load_task(task_id)
    spec = task.gold.env_spec.model_copy(update={"id": f"alamp_emit_test/{task_id.title().replace('_', '')}-v0"})
    source = emit_python(spec, reward_threshold=task.reference.success_threshold)
    path = tmp_path / "env.py"
    path.write_text(source)

    script = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert script.returncode == 0, script.stderr
    assert "return of the random episode" in script.stdout and "step 1 " in script.stdout

    module = _import(path, f"emitted_{task_id}")
    registered = gym.spec(spec.id)
    assert registered.max_episode_steps == spec.max_steps
    assert registered.reward_threshold == task.reference.success_threshold
    env = gym.make(spec.id)
    check_env(env.unwrapped, skip_render_check=True)
    # The emitted class follows the compiled env step for step (same seed, same actions).
    compiled = compile_spec(spec).make_env()
    obs_a, _ = env.reset(seed=3)
    obs_b, _ = compiled.reset(seed=3)
    np.testing.assert_allclose(obs_a, obs_b, rtol=1e-5, atol=1e-5)
    rng = np.random.default_rng(0)
    for _ in range(30):
        action = int(rng.integers(len(spec.actions)))
        out_a, out_b = env.step(action), compiled.step(action)
        np.testing.assert_allclose(out_a[0], out_b[0], rtol=1e-4, atol=1e-4)
        assert out_a[1] == pytest.approx(out_b[1], rel=1e-4, abs=1e-4) and out_a[2] == out_b[2]
        if out_a[2] or out_a[3]:
            break
    assert isinstance(module.ENV_ID, str)
    env.close()


def _toy_spec(**changes) -> dict:
    spec = {
        "id": "alamp_emit_test/Toy-v0",
        "constants": {"speed": 1.0},
        "state": [{"name": "x", "low": -10, "high": 10, "init": "0", "description": "position"}],
        "actions": [{"name": "left", "updates": [{"target": "v", "expr": "-speed"}]},
                    {"name": "right", "updates": [{"target": "v", "expr": "speed"}]}],
        "updates": [{"target": "x", "expr": "clip(x + v, -10, 10)"}],
        "reward": "-abs(x)",
        "max_steps": 7,
    }
    spec.update(changes)
    return spec


def test_constants_named_like_gymnasium_attributes_keep_the_env_working(tmp_path: Path) -> None:
    constants = {"speed": 1.0, "np_random": 2.0, "steps": 3.0, "action_space": 1.0, "max_steps": 500.0, "spec": 4.0,
                 "unwrapped": 5.0, "state": 0.5}
    spec = _toy_spec(
        id="alamp_emit_test/Clash-v0",
        constants=constants,
        updates=[{"target": "x", "expr": "clip(x + action_space * np_random * steps * max_steps * spec * unwrapped "
                                         "* state * 0 + action - 0.5, -10, 10)"}],
    )
    source = emit_python(spec)
    path = tmp_path / "env.py"
    path.write_text(source)
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    module = _import(path, "emitted_clash")
    env = module.ToyEnv() if hasattr(module, "ToyEnv") else module.ClashEnv()
    env.reset(seed=0)
    assert isinstance(env.np_random, np.random.Generator) and env.max_steps == 7
    assert env.np_random_ == 2.0 and env.max_steps_ == 500.0 and env.action_space_ == 1.0
    check_env(env, skip_render_check=True)
    steps = 0
    while not env.step(1)[3]:
        steps += 1
    assert steps + 1 == 7  # truncated by the spec's max_steps, not by the constant max_steps = 500


@pytest.mark.parametrize(
    "hostile",
    [
        'position\nimport os; os.system("echo pwned")',
        'pos"""\nimport os\n"""',
        "pos\r\nx = 1",
        "pos\u2028import os",
        "pos\\\nimport os",
        "pos\x0bimport os\x0c",
    ],
)
def test_agent_text_cannot_leave_a_comment_or_a_docstring(hostile: str) -> None:
    spec = _toy_spec(state=[{"name": "x", "low": -10, "high": 10, "init": "0", "description": hostile}])
    source = emit_python(spec)
    tree = ast.parse(source)
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert "os" not in names
    assert not any(isinstance(node, ast.Import) and node.names[0].name == "os" for node in ast.walk(tree))
    init_line = next(line for line in source.splitlines() if line.strip().startswith("x = 0"))
    assert "pos" in init_line and "#" in init_line  # the text is still there, as one inert comment


def test_a_hostile_or_odd_id_stays_inert_and_registers_as_a_valid_id() -> None:
    source = emit_python(_toy_spec(id='x"""\nimport os\n"""-v0'))
    assert not any(isinstance(node, ast.Import) and node.names[0].name == "os" for node in ast.walk(ast.parse(source)))
    assert "ENV_ID = 'ximportos-v0'" in source
    assert "ENV_ID = 'alamp/Oddnames-v3'" in emit_python(_toy_spec(id="alamp/Odd names-v3"))
    with pytest.raises(SpecError, match="reward_threshold"):
        emit_python(_toy_spec(), reward_threshold=float("nan"))
