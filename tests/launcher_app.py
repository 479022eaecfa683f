"""A Hydra app for the launcher tests (not a test module): ``alamp.experiment``'s job on the real experiment config,
with each task's agents answered from its gold outputs by a scripted LM, so that a multirun needs no LLM.

    PYTHONPATH=tests python -c "import launcher_app; launcher_app.main()" -m hydra/launcher=joblib task=a,b seed=0,1

The job function lives in this importable module, so every launcher (joblib's loky workers, submitit's pickled
jobs, Ray's remote tasks) pickles it by reference and the worker imports it from ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from omegaconf import DictConfig


def gold_script(task_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every agent's answer for ``task_id``: the task's gold outputs (the Env agent: the gold spec's updates)."""
    from alamp.tasks import load_task

    gold = load_task(task_id).gold
    dump = lambda items: [item.model_dump(mode="json") for item in items]  # noqa: E731
    return {
        "ParameterSignature": [{"parameters": dump(gold.parameters)}],
        "ObjectiveSignature": [{"objectives": dump(gold.objectives)}],
        "VariableSignature": [{"variables": dump(gold.variables)}],
        "ConstraintSignature": [{"constraints": dump(gold.constraints)}],
        "ModelingSignature": [{"mdp": gold.mdp.model_dump(mode="json")}],
        "SARSignature": [{"sar": gold.sar.model_dump(mode="json")}],
        "EnvSignature": [{"updates": dump(gold.env_spec.updates)}],
    }


def job(cfg: DictConfig) -> dict[str, Any] | None:
    """One experiment job with a gold-answering LM; records which process ran it (``worker.json``)."""
    import dspy
    from fake_lm import ScriptedLM

    from alamp.experiment import run_job

    lm = ScriptedLM(gold_script(str(cfg.task)))
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    summary = run_job(cfg, lm=lm)
    from hydra.core.hydra_config import HydraConfig

    out = HydraConfig.get().runtime.output_dir
    with open(os.path.join(out, "worker.json"), "w", encoding="utf-8") as handle:
        json.dump({"pid": os.getpid(), "task": str(cfg.task), "seed": int(cfg.seed)}, handle)
    return summary


def main() -> None:
    """The Hydra entry point over ``conf/experiment.yaml``."""
    import hydra

    import alamp.run  # noqa: F401  (registers the run-directory resolver of conf/hydra/default.yaml)
    from alamp.paths import conf_dir

    hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="experiment")(job)()


def lm_probe_job(cfg: DictConfig) -> None:
    """A job that asks the configured LM (``lm.api_base``: a server started once, outside the sweep) one tiny
    question and records its answer, the server it used and whether it started a server of its own."""
    from omegaconf import OmegaConf

    import alamp.lm.server as server_module
    from alamp.lm.config import LMConfig, build_lm

    lm_cfg = LMConfig.model_validate(OmegaConf.to_container(cfg.lm, resolve=True))
    lm = build_lm(lm_cfg)
    answer = lm(f"What is {int(cfg.seed)} + 2? Reply with the number only.", max_tokens=8)[0]
    from hydra.core.hydra_config import HydraConfig

    out = HydraConfig.get().runtime.output_dir
    with open(os.path.join(out, "probe.json"), "w", encoding="utf-8") as handle:
        json.dump({"pid": os.getpid(), "seed": int(cfg.seed), "answer": str(answer),
                   "api_base": lm.kwargs.get("api_base"), "own_servers": len(server_module._live)}, handle)


def probe_main() -> None:
    """The Hydra entry point of :func:`lm_probe_job` over ``conf/run.yaml``."""
    import hydra

    import alamp.run  # noqa: F401
    from alamp.paths import conf_dir

    hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="run")(lm_probe_job)()
