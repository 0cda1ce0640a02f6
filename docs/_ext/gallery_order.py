"""The gallery's order: the seeds' lessons first, in the order the notes teach them."""

from __future__ import annotations

LESSONS = (
    "plot_seed004_line_search.py",
    "plot_gd_sgd_minibatch.py",
    "plot_learning_rate_schedules.py",
    "plot_vanishing_gradients.py",
    "plot_cost_functions.py",
    "plot_gradient_check.py",
    "plot_backends.py",
    "plot_digits_pipeline.py",
)


class LessonOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``: the place in ``LESSONS``,
    then the file name for an example not listed there."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        return (LESSONS.index(filename) if filename in LESSONS else len(LESSONS), filename)

    def __repr__(self) -> str:
        return "LessonOrder"
