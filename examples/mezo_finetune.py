"""MeZO: fine-tune a small torch classifier with forward passes only (runs offline in seconds).

A digits MLP (scikit-learn's bundled 8x8 digits, trained in about a second) gets a freshly
initialized output layer, as when a pretrained body is given a new head; MeZO then tunes the
*whole* network from forward passes alone: no ``backward()``, no gradient buffers, memory at
inference level. Every step is journaled (its key and one scalar), so ``--journal`` makes a
killed run resume where it stopped.

    python examples/mezo_finetune.py --steps 3000 [--update adam] [--journal runs/mezo.jsonl]
"""

from __future__ import annotations

import argparse

import torch

from blackbox.keys import Key
from oracles.torch_model import digits_classifier
from strategies.mezo import MeZO


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--lr", type=float, default=None, help="default: 2e-3 (sgd), 5e-3 (adam)")
    p.add_argument("--mu", "--eps", dest="mu", type=float, default=1e-3,
                   help="perturbation radius (MeZO's eps)")
    p.add_argument("--update", default="sgd", choices=["sgd", "momentum", "adam", "sign", "conservative"])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--journal", default=None, help="a JSONL file: resume from it if it exists")
    a = p.parse_args()

    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.as_tensor(data.data / 16.0, dtype=torch.float32)
    y = torch.as_tensor(data.target, dtype=torch.long)
    perm = torch.randperm(len(x), generator=Key(a.seed).fold_in(1).torch())
    train, test = perm[:1400], perm[1400:]
    model = digits_classifier(seed=a.seed)
    with torch.no_grad():  # a new head: what fine-tuning starts from
        head = model[-1]
        head.weight.copy_(0.01 * torch.randn(head.weight.shape, generator=Key(a.seed).fold_in(2).torch()))
        head.bias.zero_()

    def accuracy() -> float:
        with torch.no_grad():
            return float((model(x[test]).argmax(1) == y[test]).float().mean())

    def loss(m: torch.nn.Module, idx: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(m(x[idx]), y[idx])

    def batches(t: int) -> torch.Tensor:  # minibatch t, reproducible from the seed
        g = Key(a.seed).fold_in(3).fold_in(t).torch()
        return train[torch.randint(0, len(train), (a.batch,), generator=g)]

    lr = a.lr if a.lr is not None else (5e-3 if a.update == "adam" else 2e-3)
    before = accuracy()
    opt = MeZO(model, loss, lr=lr, mu=a.mu, update=a.update, seed=a.seed, journal=a.journal)
    if opt.t:
        print(f"resumed from {a.journal}: {opt.t} steps replayed without forward passes")
    opt.fit(batches, a.steps)
    print(f"test accuracy: new head {100 * before:.1f}% -> after {opt.t} MeZO steps "
          f"{100 * accuracy():.1f}% ({opt.forwards} forward passes this run)")


if __name__ == "__main__":
    main()
