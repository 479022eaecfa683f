"""The spec compiler: normalisation, error messages, action variables, vector env, registration, emitter."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest

from alamp.schema.env_spec import EnvSpec
from alamp.spec import CompiledSpec, SpecError, compile_spec, emit_python
from alamp.spec.examples import cartpole_spec, mountain_car_spec


def grid_spec(**overrides: object) -> dict:
    """A small grid walk: actions move y and x; reaching x == 3 ends the episode."""
    spec = {
        "id": "alamp/Grid-v0",
        "constants": {"size": 3, "step_cost": 0.1},
        "state": [
            {"name": "x", "low": 0, "high": 3, "init": "0", "clip": True},
            {"name": "y", "low": 0, "high": 3, "init": "0", "clip": True},
        ],
        "actions": [
            {"name": "north", "updates": [{"target": "y", "expr": "y + 1"}]},
            {"name": "south", "updates": [{"target": "y", "expr": "y - 1"}]},
            {"name": "east", "updates": [{"target": "x", "expr": "x += 1"}]},
        ],
        "reward": "10 if x == size else -step_cost",
        "terminated": ["x >= size"],
        "max_steps": 20,
    }
    spec.update(overrides)
    return spec


def test_compiles_and_exposes_spaces() -> None:
    compiled = compile_spec(grid_spec())
    assert isinstance(compiled, CompiledSpec)
    assert compiled.action_space == gym.spaces.Discrete(3)
    assert compiled.observation_space.dtype == np.float32
    np.testing.assert_array_equal(compiled.observation_space.high, [3, 3])
    assert any("x += 1" in n and "x = x + 1" in n for n in compiled.normalisations)


def test_grid_semantics_single_env() -> None:
    env = compile_spec(grid_spec()).make_env()
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs, [0, 0])
    obs, reward, terminated, truncated, _ = env.step(1)  # south: clipped at 0
    np.testing.assert_array_equal(obs, [0, 0])
    assert reward == pytest.approx(-0.1) and not terminated
    for _ in range(3):
        obs, reward, terminated, truncated, _ = env.step(2)
    np.testing.assert_array_equal(obs, [3, 0])
    assert terminated and reward == 10.0 and not truncated


def test_normalisations_are_applied_and_recorded() -> None:
    spec = grid_spec(
        reward="reward = np.sqrt(math.pi) * '2' if true else 0",
        terminated=["(x >= size) | (y > 5)", "done = ~(x < 100)"],
    )
    compiled = compile_spec(spec)
    notes = "\n".join(compiled.normalisations)
    for expected in ("np.sqrt -> sqrt", "math.pi -> pi", "'2'", "true -> True", "'|' between conditions -> 'or'",
                     "'~' before a condition -> 'not'", "reward = np.sqrt"):
        assert expected in notes, expected
    env = compiled.make_env()
    env.reset(seed=0)
    _, reward, _, _, _ = env.step(0)
    assert reward == pytest.approx(2 * np.sqrt(np.pi))


def test_a_spreadsheet_if_is_read_as_where() -> None:
    # Real output of the embedded model (wireless, seed 0): if(action == 0, a, b), not valid Python as written.
    spec = grid_spec(reward="if(x >= 1, 5, IF(y > 0, 2, 0))")
    compiled = compile_spec(spec)
    assert any("where(x >= 1, 5, where(y > 0, 2, 0))" in n for n in compiled.normalisations)
    env = compiled.make_env()
    env.reset(seed=0)
    env.unwrapped.set_state([0, 0])
    assert env.step(0)[1] in (0.0, 2.0, 5.0)
    untouched = compile_spec(grid_spec(reward="1 if(x > 0) else 0")).normalisations  # valid Python as written
    assert not any("where" in n for n in untouched)


def test_a_one_trial_binomial_is_a_bernoulli_draw() -> None:
    # Real output of the embedded model (wireless, seed 1): np.random.binomial(1, 0.5) for "with probability 0.5".
    compiled = compile_spec(grid_spec(reward="np.random.binomial(1, 0.25)"))
    assert any("bernoulli(p)" in n for n in compiled.normalisations)
    env = compiled.make_env()
    env.reset(seed=0)
    rewards = [env.step(0)[1] for _ in range(400)]
    assert set(rewards) <= {0.0, 1.0} and 0.15 < sum(rewards) / len(rewards) < 0.35
    with pytest.raises(SpecError, match="binomial"):
        compile_spec(grid_spec(reward="np.random.binomial(3, 0.25)"))  # more trials: not in the language


def test_constant_subscripts_read_as_expanded_list_elements() -> None:
    # A list parameter `goal = [3, 1]` is assembled as goal_0, goal_1 (alamp.assemble.expand_parameters).
    spec = grid_spec(
        constants={"size": 3, "step_cost": 0.1, "goal_0": 3, "goal_1": 1, "walls_1_0": 2},
        reward="10 if x == goal[0] and y == goal[1] else -step_cost",
        terminated=["x >= goal[0]", "y == walls[1][0] and x == walls[1, 0]"],
    )
    compiled = compile_spec(spec)
    notes = "\n".join(compiled.normalisations)
    assert "goal[0] -> goal_0" in notes and "walls[1][0] -> walls_1_0" in notes and "walls[1, 0] -> walls_1_0" in notes
    env = compiled.make_env()
    env.reset(seed=0)
    env.step(0)  # north: y = 1
    for _ in range(2):
        _, reward, terminated, _, _ = env.step(2)
    _, reward, terminated, _, _ = env.step(2)  # x = 3, y = 1: the goal
    assert reward == 10.0 and terminated


@pytest.mark.parametrize("expr", ["goal[2]", "goal[i]", "goal[-1]", "size[0]", "goal[0:1]"])
def test_other_subscripts_are_refused_with_the_element_names(expr: str) -> None:
    spec = grid_spec(constants={"size": 3, "step_cost": 0.1, "goal_0": 3, "goal_1": 1}, reward=expr)
    with pytest.raises(SpecError) as error:
        compile_spec(spec)
    assert "subscripts such as a[i] are not allowed" in str(error.value) and "cells_0" in str(error.value)


def test_an_if_statement_for_the_target_reads_as_a_conditional_expression() -> None:
    # Real output of the embedded model (wireless): "if C1 == 1 and Q1 < 10: Q1 = Q1 + 2" where an expression for
    # Q1 was asked. Without an else the variable keeps its value.
    spec = grid_spec(
        updates=[
            {"target": "y", "expr": "if x >= 1: y = y + 2"},
            {"target": "x", "expr": "if x > 2: x = 0\nelif x > 1: x += 0.5\nelse: x = x"},
        ]
    )
    compiled = compile_spec(spec)
    assert any("y = y + 2 if x >= 1 else y" in n for n in compiled.normalisations)
    env = compiled.make_env()
    env.reset(seed=0)
    obs, *_ = env.step(2)  # east: x = 1, then y = 2, then x = 1 (neither branch)
    assert list(obs) == [1.0, 2.0]
    obs, *_ = env.step(2)  # x = 2: y = 3 (clipped), then x = 2.5
    assert list(obs) == [2.5, 3.0]


def test_an_if_statement_may_assign_the_next_value_of_the_target() -> None:
    # Real output (drone, seed 2): "if action == 0 and row > 0: row_next = row - 1" written for row.
    spec = grid_spec(updates=[{"target": "y", "expr": "if action == 2 and y < 3: y_next = y + 1"}])
    env = compile_spec(spec).make_env()
    env.reset(seed=0)
    assert list(env.step(2)[0]) == [1.0, 1.0] and list(env.step(0)[0]) == [1.0, 2.0]


@pytest.mark.parametrize(
    "expr",
    ["if x >= 1: x = x + 2", "if x >= 1:\n    y = 1\n    x = 2", "if x >= 1: y = 1\nelse: x = 0"],
)
def test_if_statements_that_do_more_than_update_the_target_are_refused(expr: str) -> None:
    with pytest.raises(SpecError, match="statement|assigns to"):
        compile_spec(grid_spec(updates=[{"target": "y", "expr": expr}]))


def test_caret_is_refused_with_a_hint() -> None:
    with pytest.raises(SpecError) as error:
        compile_spec(grid_spec(reward="x ^ 2"))
    assert "'**'" in error.value.problems[0] and "reward" in error.value.problems[0]


def test_all_problems_are_reported_with_names() -> None:
    spec = cartpole_spec().model_dump()
    spec["updates"][6]["expr"] = "x_dot + tau * xac"  # typo
    spec["reward"] = "foo(1)"
    spec["terminated"] = ["theta.real > 1"]
    with pytest.raises(SpecError) as error:
        compile_spec(spec)
    problems = error.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("updates[6] (x_dot = x_dot + tau * xac): unknown name 'xac'")
    assert "did you mean 'xacc'" in problems[0] and "known names:" in problems[0]
    assert problems[1].startswith("reward (foo(1))") and "not an allowed function" in problems[1]
    assert "terminated[0]" in problems[2] and "attribute access" in problems[2]
    assert str(error.value).count("\n- ") == 3


def test_assigned_later_is_explained() -> None:
    spec = cartpole_spec().model_dump()
    spec["updates"].insert(0, spec["updates"].pop(4))  # xacc before thetaacc and temp
    with pytest.raises(SpecError) as error:
        compile_spec(spec)
    assert any("only assigned in updates" in p and "'temp'" in p for p in error.value.problems)


def test_action_variable_missing_from_some_actions_names_them() -> None:
    spec = cartpole_spec().model_dump()
    spec["actions"].append({"name": "coast", "updates": []})
    with pytest.raises(SpecError) as error:
        compile_spec(spec)
    [problem] = error.value.problems
    assert "'force'" in problem and "push_left, push_right" in problem and "but not by coast" in problem


def test_constant_overridden_by_some_actions_keeps_default() -> None:
    spec = cartpole_spec().model_dump()
    spec["constants"]["force"] = 0.0
    spec["actions"].append({"name": "coast", "updates": []})
    compiled = compile_spec(spec)
    env = compiled.make_env()
    env.reset(seed=0)
    env.set_state([0, 0, 0, 0])
    env.step(2)
    np.testing.assert_allclose(env.get_state(), [0, 0, 0, 0])  # no force, upright pole: nothing moves
    env.set_state([0, 0, 0, 0])
    env.step(1)
    assert env.get_state()[1] > 0


def test_builtin_action_index_and_draws() -> None:
    spec = {
        "id": "alamp/Inventory-v0",
        "constants": {"lam": 2.0, "cap": 10},
        "state": [{"name": "stock", "low": 0, "high": 10, "init": "integers(0, 5)", "clip": True}],
        "draws": [{"name": "demand", "expr": "demand ~ poisson(lam)".replace("demand ~ ", "")}],
        "actions": [{"name": f"order_{k}"} for k in range(3)],
        "updates": [
            {"target": "sold", "expr": "min(stock, demand)"},
            {"target": "stock", "expr": "stock - sold + action"},
        ],
        "reward": "sold - 0.5 * action",
        "max_steps": 30,
    }
    compiled = compile_spec(spec)
    venv = compiled.make_vec(16)
    obs, _ = venv.reset(seed=1)
    assert set(np.unique(obs)) <= set(range(5))
    for _ in range(40):
        actions = np.full(16, 2)
        obs, reward, terminated, truncated, info = venv.step(actions)
        assert obs.shape == (16, 1) and (obs >= 0).all() and (obs <= 10).all()
        assert np.all(reward == np.round(reward * 2) / 2)
    assert not terminated.any()


def test_vector_env_same_step_autoreset_and_truncation() -> None:
    compiled = compile_spec(cartpole_spec())
    venv = compiled.make_vec(8)
    assert venv.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    venv.reset(seed=0)
    states = np.zeros((8, 4))
    states[0] = [2.39, 5.0, 0, 0]  # leaves the track this step
    venv.set_state(states)
    obs, reward, terminated, truncated, info = venv.step(np.ones(8, dtype=np.int64))
    assert terminated.tolist() == [True] + [False] * 7
    assert info["_final_obs"][0] and not info["_final_obs"][1:].any()
    assert info["final_obs"][0][0] > 2.4
    assert abs(obs[0][0]) <= 0.05  # already reset
    np.testing.assert_array_equal(reward, np.ones(8))
    # truncation after max_steps, with the pole held upright by resetting the state
    venv = compiled.make_vec(4)
    venv.reset(seed=0)
    for t in range(1, 501):
        venv.set_state(np.zeros((4, 4)))
        _, _, terminated, truncated, _ = venv.step(np.array([0, 1, 0, 1]))
        assert truncated.all() == (t == 500) and not terminated.any()


def test_vector_env_refuses_bad_actions() -> None:
    venv = compile_spec(cartpole_spec()).make_vec(4)
    venv.reset(seed=0)
    for bad in (np.array([0, 1, 2, 0]), np.array([0, -1, 0, 0]), np.array([0, 1])):
        with pytest.raises(ValueError, match="actions must"):
            venv.step(bad)


def test_register_makes_gym_make_work() -> None:
    compiled = compile_spec(mountain_car_spec())
    env_id = compiled.register("alamp/TestMountainCar-v0")
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2,)
    venv = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, 2)


def test_dict_and_json_specs_and_pydantic_errors() -> None:
    as_json = cartpole_spec().model_dump_json()
    assert compile_spec(as_json).state_names == ["x", "x_dot", "theta", "theta_dot"]
    with pytest.raises(SpecError) as error:
        compile_spec({"state": [], "actions": []})
    assert "state is empty" in error.value.problems[0]


def _load_emitted(spec: EnvSpec, tmp_path, name: str):
    path = tmp_path / f"{name}.py"
    path.write_text(emit_python(spec))
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return path, module


@pytest.mark.parametrize("make_spec", [cartpole_spec, mountain_car_spec])
def test_emitted_module_agrees_with_compiled_env(make_spec, tmp_path) -> None:
    spec = make_spec()
    path, module = _load_emitted(spec, tmp_path, "emitted_env")
    cls = next(v for k, v in vars(module).items() if k.endswith("Env") and isinstance(v, type) and k != "Env")
    emitted = cls()
    compiled = compile_spec(spec).make_env()
    obs_a, _ = emitted.reset(seed=5)
    obs_b, _ = compiled.reset(seed=5)
    np.testing.assert_array_equal(obs_a, obs_b)  # same draws from the same seed
    rng = np.random.default_rng(0)
    for _ in range(300):
        action = int(rng.integers(spec.actions.__len__()))
        a = emitted.step(action)
        b = compiled.step(action)
        np.testing.assert_allclose(emitted.get_state(), compiled.get_state(), rtol=0, atol=1e-9)
        assert a[1:4] == b[1:4]
        if a[2] or a[3]:
            emitted.reset(seed=int(rng.integers(1000)))
            compiled.set_state(emitted.get_state())
            compiled._steps = 0  # both episodes restart
    # it also runs standalone, with only numpy and gymnasium
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "return of the random episode" in result.stdout


def test_emitted_module_handles_reserved_names_and_overrides(tmp_path) -> None:
    spec = EnvSpec.model_validate(
        {
            "id": "alamp/Odd names-v3",
            "constants": {"np": 2.0, "force": 0.0},
            "state": [{"name": "state", "low": -10, "high": 10, "init": "uniform(-1, 1)", "clip": True}],
            "actions": [{"name": "push", "updates": [{"target": "force", "expr": "np"}]}, {"name": "wait"}],
            "updates": [{"target": "state", "expr": "state + force * 0.5"}],
            "reward": "-abs(state)",
            "terminated": ["abs(state) >= 10"],
        }
    )
    _, module = _load_emitted(spec, tmp_path, "odd_env")
    emitted = module.OddNamesEnv()
    compiled = compile_spec(spec).make_env()
    emitted.reset(seed=0)
    compiled.reset(seed=0)
    for action in [0, 1, 0, 0, 1]:
        a, b = emitted.step(action), compiled.step(action)
        np.testing.assert_allclose(a[0], b[0])
        assert a[1] == pytest.approx(b[1])


def _gold_tasks() -> list:
    from alamp.tasks import load_tasks

    return load_tasks()


@pytest.mark.parametrize("task", _gold_tasks(), ids=lambda task: task.id)
def test_gold_env_specs_of_the_task_set_compile_and_run(task) -> None:
    from gymnasium.utils.env_checker import check_env

    compiled = compile_spec(task.gold.env_spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # check_env's notes about infinite bounds
        check_env(compiled.make_env(), skip_render_check=True)
    venv = compiled.make_vec(16)
    venv.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(50):
        obs, rewards, _, _, info = venv.step(rng.integers(0, compiled.action_space.n, 16))
        assert "numerical_error" not in info
        assert np.isfinite(obs).all() and np.isfinite(rewards).all()
