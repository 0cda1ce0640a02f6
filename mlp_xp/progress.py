"""Training progress for ``fit(callbacks=[...])``: a tqdm bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import math
import sys
from typing import Any, TextIO


class Progress:
    """A ``fit`` callback that shows the running loss after each epoch.

    With tqdm installed (``pip install "mlp_xp[progress]"``) and ``stream`` a
    terminal, a progress bar whose postfix carries the last epoch's loss (and
    validation loss); otherwise one plain line every ``every`` epochs and at
    the last one, so that logs and pipes get readable text.  Use it as a
    context manager so that the bar is closed when ``fit`` stops early::

        with Progress(epochs) as progress:
            model.fit(x, y, epochs=epochs, callbacks=[progress])

    Parameters
    ----------
    epochs : int
        The number of epochs ``fit`` was asked for.
    stream : text file, optional
        Where to write; default ``sys.stdout`` (read when the object is made).
    every : int, optional
        Plain lines every ``every`` epochs; default ⌈epochs/20⌉ (about twenty lines).
    """

    def __init__(self, epochs: int, stream: TextIO | None = None, every: int | None = None) -> None:
        self.epochs = epochs
        self.stream = sys.stdout if stream is None else stream
        self.every = every or max(1, math.ceil(epochs / 20))
        self._bar = _tqdm_bar(epochs, self.stream)

    def __call__(self, model: Any, history: Any) -> bool:
        values = {"loss": history.loss[-1]}
        if history.val_loss:
            values["val_loss"] = history.val_loss[-1]
        epoch = history.n_epochs
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
            self._bar.update(epoch - self._bar.n)
        elif epoch % self.every == 0 or epoch == self.epochs:
            shown = "  ".join(f"{k} {v:.6g}" for k, v in values.items())
            line = f"epoch {epoch}/{self.epochs}  {shown}  {history.time[-1]:.3f} s"
            print(line, file=self.stream, flush=True)
        return False

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _tqdm_bar(epochs: int, stream: TextIO) -> Any:
    """A tqdm bar on ``stream`` when tqdm is installed and ``stream`` is a terminal, else None."""
    isatty = getattr(stream, "isatty", None)
    if not (isatty and isatty()):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=epochs, file=stream, unit="epoch", dynamic_ncols=True)
