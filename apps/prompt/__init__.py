"""Prompt tuning against model APIs (``blackbox tune-prompt``): tasks from data, discrete prompts
(BDPL-style categorical relaxation, random search, CMA-ES, ZO-RankSGD) and soft prompts (BBT),
held-out accuracy against baselines at equal API calls."""
