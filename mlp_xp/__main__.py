"""``python -m mlp_xp``: the ``mlp-xp`` command line (train, predict, evaluate; see ``mlp_xp.cli``)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main(prog="python -m mlp_xp"))
