"""Reinforcement learning with policy gradients: policies, rollouts, REINFORCE, off-policy gradients, exact tabular MDPs (chapter 2); GAE, the natural policy gradient, TRPO and PPO (chapter 7)."""
