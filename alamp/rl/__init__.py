"""Training stage: a fast DQN for discrete actions, its greedy policy, evaluation and learning curves."""

from alamp.rl.config import DQNConfig, load_trainer_config
from alamp.rl.curve import save_learning_curve
from alamp.rl.dqn import EvalCallback, TrainResult, train_dqn
from alamp.rl.evaluation import BatchedEvaluator, EvalResult, evaluate_policy
from alamp.rl.policy import QPolicy

__all__ = [
    "BatchedEvaluator",
    "DQNConfig",
    "EvalCallback",
    "EvalResult",
    "QPolicy",
    "TrainResult",
    "evaluate_policy",
    "load_trainer_config",
    "save_learning_curve",
    "train_dqn",
]
