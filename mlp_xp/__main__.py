"""``python -m mlp_xp``: train a network on scikit-learn's digits and print its accuracy."""

from __future__ import annotations

import argparse

from ._backend import BACKENDS, to_numpy
from .datasets import digits
from .model import MLP


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(prog="python -m mlp_xp", description=__doc__)
    parser.add_argument("--backend", default="numpy", choices=BACKENDS)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    try:
        x_train, x_test, y_train, y_test = digits(seed=args.seed)
        model = MLP([64, 64, 10], "relu", "softmax", backend=args.backend, seed=args.seed)
    except (ImportError, RuntimeError, ValueError) as exc:
        parser.error(str(exc))
    print(f"{model}\ntraining on {len(y_train)} digits, testing on {len(y_test)}")
    history = model.fit(
        x_train, y_train, loss="cross_entropy", lr=0.1, batch_size=32, epochs=args.epochs, verbose=True
    )
    predicted = to_numpy(model.xp.argmax(model.forward(x_test), axis=1))
    accuracy = float((predicted == y_test).mean())
    print(f"final training loss {history.loss[-1]:.4f}; test accuracy {accuracy:.1%}")
    return accuracy


if __name__ == "__main__":
    main()
