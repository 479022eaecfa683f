"""The physical-control references behave as their equations say (steady states, free fall, washout)."""

from __future__ import annotations

import math

import pytest

from alamp.envs import ChemostatEnv, CruiseControlEnv, LunarDescentEnv, PositioningStageEnv, TankLevelEnv


def _hold(env, state, action: int, steps: int):
    env.reset(seed=0)
    env.set_state(state)
    rewards, terminated = [], False
    for _ in range(steps):
        obs, reward, terminated, _, _ = env.step(action)
        rewards.append(reward)
        if terminated:
            break
    return obs, rewards, terminated


def test_tank_settles_where_inflow_equals_torricelli_outflow() -> None:
    # u * Q_max = C * sqrt(h)  =>  h* = (0.6 * 0.06 / 0.03)^2 = 1.44 m; "hold" keeps the valve at 0.6.
    obs, rewards, _ = _hold(TankLevelEnv(), [0.3, 0.6], action=1, steps=400)
    assert obs[1] == pytest.approx(0.6)
    assert obs[0] == pytest.approx(1.44, abs=1e-3)
    assert rewards[-1] == pytest.approx(-abs(1.44 - 1.5), abs=1e-3)


def test_stage_under_a_constant_push_overshoots_into_the_stop_but_settles_from_near_rest() -> None:
    # Underdamped (zeta ~ 0.19): pushing all the way from rest overshoots F/k = 0.625 m into the 1 m stop (the
    # trap a controller must avoid); from near the equilibrium the same push settles at F/k.
    _, rewards, terminated = _hold(PositioningStageEnv(), [0.0, 0.0], action=2, steps=100)
    assert terminated and len(rewards) < 40 and rewards[-1] < -50.0
    obs, rewards, terminated = _hold(PositioningStageEnv(), [0.6, 0.0], action=2, steps=600)
    assert not terminated and len(rewards) == 600
    assert obs[0] == pytest.approx(5.0 / 8.0, abs=1e-3)
    assert obs[1] == pytest.approx(0.0, abs=1e-3)


def test_stage_hitting_a_stop_ends_the_episode_with_the_penalty() -> None:
    _, rewards, terminated = _hold(PositioningStageEnv(), [0.99, 2.0], action=2, steps=1)
    assert terminated
    assert rewards[0] == pytest.approx(-abs(1.0 - 0.4) - 50.0)


def test_lander_with_the_engine_off_falls_as_euler_free_fall_and_crashes() -> None:
    env = LunarDescentEnv()
    obs, rewards, terminated = _hold(env, [100.0, 0.0, 60.0], action=0, steps=10)
    # Explicit Euler: h_n = h_0 - g * dt^2 * n (n - 1) / 2, v_n = -g * dt * n; no propellant burnt.
    n, g, dt = 10, 1.62, 0.5
    assert obs[0] == pytest.approx(100.0 - g * dt**2 * n * (n - 1) / 2, abs=1e-4)
    assert obs[1] == pytest.approx(-g * dt * n, abs=1e-4)
    assert obs[2] == pytest.approx(60.0) and sum(rewards) == 0.0 and not terminated
    _, rewards, terminated = _hold(env, [0.5, -10.0, 60.0], action=0, steps=1)
    assert terminated and rewards[0] == pytest.approx(-100.0)


def test_lander_touching_down_slowly_lands_and_an_empty_tank_gives_no_thrust() -> None:
    env = LunarDescentEnv()
    _, rewards, terminated = _hold(env, [0.5, -1.0, 10.0], action=1, steps=1)
    burn = 0.5 * 1500.0 / 2500.0
    assert terminated and rewards[0] == pytest.approx(100.0 - burn)
    obs, rewards, _ = _hold(env, [100.0, 0.0, 0.0], action=2, steps=1)
    assert obs[1] == pytest.approx(-1.62 * 0.5) and rewards[0] == 0.0


def test_chemostat_at_peak_dilution_needs_a_batch_phase_first() -> None:
    env = ChemostatEnv()
    # D = 0.45 from inoculation: mu(S_in) = 0.49 barely beats the dilution, the culture stays thin.
    _, rewards, _ = _hold(env, [0.1, 10.0], action=3, steps=96)
    assert sum(rewards) < 20.0
    grown, rewards, _ = _hold(env, [0.1, 10.0], action=0, steps=20)
    assert sum(rewards) == 0.0 and grown[0] > 4.0  # batch: nothing leaves, the substrate becomes biomass
    steady, rewards, _ = _hold(env, grown, action=3, steps=200)
    s_star = 0.2 * 0.45 / (0.5 - 0.45)  # Monod steady state: mu(S*) = D
    assert steady[1] == pytest.approx(s_star, abs=1e-2)
    assert steady[0] == pytest.approx(0.5 * (10.0 - s_star), abs=1e-2)
    assert rewards[-1] == pytest.approx(0.45 * steady[0] * 2.0 * 0.5, rel=1e-3)


def test_cruise_control_coasting_on_a_flat_road_loses_the_resistance() -> None:
    env = CruiseControlEnv()
    env.reset(seed=0)
    env.set_state([25.0, 0.0])
    obs, reward, _, _, _ = env.step(1)
    resistance = 0.42 * 25.0**2 + 0.01 * 1200.0 * 9.81
    assert obs[0] == pytest.approx(25.0 - resistance / 1200.0, abs=1e-5)
    assert reward == pytest.approx(-resistance / 1200.0, abs=1e-5)
    assert abs(obs[1]) < 0.06 and not math.isclose(float(obs[1]), 0.0)  # the grade wandered
