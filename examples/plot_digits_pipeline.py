"""
Digits with MLPClassifier in a scikit-learn pipeline
====================================================

:class:`mlp_xp.MLPClassifier` is a scikit-learn estimator: it takes scikit-learn's
``MLPClassifier`` parameters, passes its estimator checks, and so works inside
pipelines, grid searches and cross-validation — with ``backend=`` choosing the
library that trains the network (``"cupy"`` on a GPU). This example scales the
8×8 digits, chooses the hidden layer and the L2 penalty by a cross-validated grid
search, and looks at the errors that are left.
"""

# %%
# A pipeline and a grid
# ---------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlp_xp

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

pipeline = make_pipeline(
    StandardScaler(),
    mlp_xp.MLPClassifier(
        learning_rate_init=0.01, early_stopping=True, random_state=0, backend="numpy"
    ),
)
grid = {
    "mlpclassifier__hidden_layer_sizes": [(16,), (64,)],
    "mlpclassifier__alpha": [1e-4, 1e-1, 1.0],
}
search = GridSearchCV(pipeline, grid, cv=3).fit(X_train, y_train)
print(
    "best:", search.best_params_, f"cross-validated accuracy {search.best_score_:.3f}"
)
print(f"test accuracy of the refitted pipeline: {search.score(X_test, y_test):.3f}")

# %%
# The fitted estimator is a scikit-learn object with scikit-learn's attributes, and
# ``model_`` is the :class:`~mlp_xp.MLP` it trained:
best = search.best_estimator_[-1]
print(best.n_iter_, "epochs;", best.model_)
print([w.shape for w in best.coefs_])

# %%
# The grid, and the errors left
# -----------------------------
scores = search.cv_results_["mean_test_score"].reshape(
    len(grid["mlpclassifier__hidden_layer_sizes"]), -1
)
fig, (heat, confusion) = plt.subplots(1, 2, figsize=(12, 4.8), width_ratios=(1, 1.1))
image = heat.imshow(scores, cmap="viridis")
for (i, j), score in np.ndenumerate(scores):
    heat.text(
        j,
        i,
        f"{score:.3f}",
        ha="center",
        va="center",
        color="white" if score < scores.max() else "black",
    )
heat.set_xticks(
    range(scores.shape[1]), [f"α = {a:g}" for a in grid["mlpclassifier__alpha"]]
)
heat.set_yticks(
    range(scores.shape[0]),
    [f"hidden {h}" for h in grid["mlpclassifier__hidden_layer_sizes"]],
)
heat.set_title("Mean cross-validated accuracy")
fig.colorbar(image, ax=heat, shrink=0.8)
ConfusionMatrixDisplay.from_estimator(
    search, X_test, y_test, ax=confusion, colorbar=False
)
confusion.set_title("Test set: true against predicted digit")
fig.tight_layout()

# %%
# A few of the digits the network gets wrong:
predicted = search.predict(X_test)
wrong = np.flatnonzero(predicted != y_test)[:8]
fig, axes = plt.subplots(1, len(wrong), figsize=(1.6 * len(wrong), 2.0), squeeze=False)
for ax, i in zip(axes[0], wrong):
    ax.imshow(X_test[i].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"{y_test[i]} → {predicted[i]}", fontsize=10)
    ax.axis("off")
fig.tight_layout()
