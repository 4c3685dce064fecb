"""Reinforcement learning with policy gradients: policies, rollouts, REINFORCE, off-policy gradients, exact tabular MDPs (chapter 2)."""
