"""The description read once (``alamp.description``) and the text's own names (``alamp.text_names``).

Examples come from train and dev tasks only (thermostat, fishery_quota, epidemic_control): the test split is not
used to fit anything.
"""

from __future__ import annotations

from alamp.description import Description, symbols_in_text
from alamp.schema import Parameter, Variable
from alamp.tasks import load_tasks
from alamp.text_names import adopt_text_symbols

_TASKS = {t.id: t for t in load_tasks()}


def test_the_symbols_of_the_texts_formulas_in_order() -> None:
    thermostat = Description.read(_TASKS["thermostat"].description)
    assert thermostat.rewritten and "T_in ← T_in" not in thermostat.text
    assert thermostat.symbols[:4] == ("T_in", "T_out", "P", "eta")
    epidemic = Description.read(_TASKS["epidemic_control"].description)
    assert {"beta", "S", "I", "new_infections"} <= set(epidemic.symbols)
    assert "new_infections" in epidemic.formulas


def test_prose_before_an_equals_sign_is_no_symbol() -> None:
    text = "The price is what it is = a fact. Then x = x + 2*y, and z = sqrt(x)."
    assert symbols_in_text(text) == ["x", "y", "z"]


def test_next_values_and_pi_are_no_symbols() -> None:
    # pendulum_swingup (dev): offered theta_dot_next, theta_next and pi, the Variable agent made every symbol a state.
    text = "theta_dot_next = theta_dot + u*dt, theta_next = (theta + theta_dot_next*dt + pi) % (2*pi) - pi"
    assert symbols_in_text(text) == ["theta_dot", "u", "dt", "theta"]
    assert symbols_in_text("x_next = 2*y") == ["x_next", "y"]  # no x beside it: a name of its own


def test_a_description_is_read_once_into_every_fact_the_program_takes_from_it() -> None:
    text = Description.read("Each step x = x + tau*v with tau = 0.5. It has two actions, in this order: left, right.")
    assert text.constants == {"tau": 0.5} and text.stated.n_actions == 2
    assert not Description.read("plain words", plain=True).rewritten


def _thermostat_variables() -> list[Variable]:
    return [
        Variable(name="indoor_temp", role="state", symbol="T_in"),
        Variable(name="outdoor_temp", role="state", symbol="T_{out}"),  # LaTeX-ish: the plain form is T_out
        Variable(name="power", role="action", symbol="P"),
        Variable(name="room_noise", role="exogenous", symbol="η"),
        Variable(name="weather_change", role="exogenous", symbol=""),
    ]


def test_quantities_take_the_symbols_the_texts_formulas_use() -> None:
    text = Description.read(_TASKS["thermostat"].description)
    renamed, notes = adopt_text_symbols(_thermostat_variables(), text=text)
    assert [v.name for v in renamed] == ["T_in", "T_out", "P", "eta", "weather_change"]
    assert renamed[0].description == "indoor temp", "the descriptive name stays beside the symbol"
    assert len(notes) == 4 and "indoor_temp is called T_in" in notes[0]


def test_a_symbol_the_text_does_not_use_or_two_quantities_claim_is_not_adopted() -> None:
    text = Description.read(_TASKS["thermostat"].description)
    variables = [
        Variable(name="indoor_temp", role="state", symbol="T_in"),
        Variable(name="setpoint_error", role="state", symbol="T_in"),  # claimed twice: says nothing
        Variable(name="outdoor_temp", role="state", symbol="Tout_x"),  # not a symbol of the text
    ]
    renamed, notes = adopt_text_symbols(variables, text=text)
    assert [v.name for v in renamed] == ["indoor_temp", "setpoint_error", "outdoor_temp"] and not notes


def test_a_symbol_taken_elsewhere_or_given_another_number_by_the_text_is_not_adopted() -> None:
    text = Description.read("Harvest h = q*E*B where the catchability q = 0.4 and effort E varies.")
    parameters = [
        Parameter(name="catchability", value=0.5, symbol="q"),  # the text says q = 0.4: the wrong quantity
        Parameter(name="effort_level", value=3.0, symbol="E"),
    ]
    renamed, notes = adopt_text_symbols(parameters, text=text, taken=["E"])
    assert [p.name for p in renamed] == ["catchability", "effort_level"] and not notes
    renamed, _ = adopt_text_symbols([Parameter(name="catchability", value=0.4, symbol="q")], text=text)
    assert renamed[0].name == "q"


def test_symbols_the_prose_ties_to_one_quantity_are_adopted() -> None:
    # epidemic_control (dev): "the susceptible share S and the infected share I"; nothing filled ``symbol``.
    text = Description.read(_TASKS["epidemic_control"].description)
    variables = [Variable(name="susceptible", role="state"), Variable(name="infected", role="state"),
                 Variable(name="move", role="action")]  # fmt: skip
    renamed, notes = adopt_text_symbols(variables, text=text)
    assert [v.name for v in renamed] == ["S", "I", "move"]
    assert "the prose names it so" in notes[0]
    # thermostat (train): "where P is the heater power" ties P to the power variable ...
    thermostat = Description.read(_TASKS["thermostat"].description)
    power = [Variable(name="power", role="action"), Variable(name="indoor_temp", role="state")]
    assert [v.name for v in adopt_text_symbols(power, text=thermostat)[0]] == ["P", "T_in"]
    # ... but not to two power variables at once: a tie to several quantities says nothing.
    two = [Variable(name="power", role="action"), Variable(name="heater_power", role="state")]
    assert adopt_text_symbols(two, text=thermostat) == (two, [])
    # Parameters take only the symbols the agent gave them: "initial_susceptible" shares the words of "the
    # susceptible share S" (epidemic_control, dev) but is not S.
    initial = [Parameter(name="initial_susceptible", value=0.99), Parameter(name="recovery", value=0.1)]
    assert adopt_text_symbols(initial, text=text) == (initial, [])
