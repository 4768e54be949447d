"""Calibration: a confidence of 0.9 should mean right about 90 % of the time, on images no model saw."""
import numpy as np

from core.evaluation.calibration import calibration_error, fit_temperature, scaled
from core.models.head_fitting import fit_head, make_head_trainer
from core.models.heads import HeadConfig
from core.models.linear_head import L2_GRID


def overlapping_classes(n: int, seed: int, dim: int = 40, classes: int = 3, spread: float = 0.35):
    """Gaussian classes that overlap: no head can be sure of every image, so over-confidence shows."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, spread, (classes, dim))
    y = rng.integers(0, classes, n)
    return (centres[y] + rng.normal(0, 1, (n, dim))).astype(np.float32), y


def test_temperature_fitted_on_held_out_predictions_makes_confidence_match_accuracy_on_new_images():
    X, y = overlapping_classes(150, seed=0)
    head = fit_head(X, y, 3, HeadConfig(l2=1e-5), seed=0)  # barely regularised: over-confident
    X_held, y_held = overlapping_classes(600, seed=1)  # the out-of-fold role: images the head never saw
    temperature = fit_temperature(y_held, head.predict_proba(X_held))
    X_new, y_new = overlapping_classes(3000, seed=2)
    before = head.predict_proba(X_new)
    after = head.with_temperature(temperature).predict_proba(X_new)
    assert temperature > 1.5  # it softens an over-confident head
    assert (after.argmax(1) == before.argmax(1)).all()  # the same answers, only honester confidence
    assert calibration_error(y_new, after) < 0.05 < calibration_error(y_new, before)
    accuracy = (after.argmax(1) == y_new).mean()
    assert abs(after.max(1).mean() - accuracy) < 0.05


def test_fit_temperature_recovers_the_temperature_the_labels_were_drawn_at():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (5000, 4))
    truth = scaled(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), 2.5)
    labels = np.array([rng.choice(4, p=p / p.sum()) for p in truth.astype(np.float64)])
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert abs(fit_temperature(labels, proba) - 2.5) < 0.2
    assert calibration_error(labels, truth) < 0.03


def test_linear_head_chooses_stronger_regularisation_for_noisier_data_and_refits_on_every_image():
    X, y = overlapping_classes(120, seed=3, dim=200, spread=0.1)
    X_val, y_val = overlapping_classes(60, seed=4, dim=200, spread=0.1)
    trainer = make_head_trainer(X, y, 3, HeadConfig(), 0, X_val, y_val)
    epochs = list(trainer.epochs())
    assert trainer.chosen_l2 >= 1e-2  # 200 noisy dims, 120 images: weak L2 overfits
    assert trainer.stopping.best_val_loss == min(e.val_loss for e in epochs)
    # Strongest first, one strength past the best (where the validation loss rose), then stopped.
    assert len(epochs) == min(len(L2_GRID), L2_GRID.index(trainer.chosen_l2) + 2) < len(L2_GRID)
    assert epochs[-1].val_loss > trainer.stopping.best_val_loss
    model = trainer.best_model()
    X_new, y_new = overlapping_classes(2000, seed=5, dim=200, spread=0.1)
    fixed = fit_head(X, y, 3, HeadConfig(l2=trainer.chosen_l2), 0)  # the training images alone
    assert (model.predict_proba(X_new).argmax(1) == y_new).mean() >= (fixed.predict_proba(X_new).argmax(1) == y_new).mean() - 0.01


def test_linear_head_reaches_the_optimum_when_a_few_directions_dominate_the_features():
    """Embeddings vary mostly along a few directions (the loss is hundreds of times steeper there): the fit
    must still end at the minimum of its objective, not wherever the step limit stops it."""
    from core.models import linear_head

    rng = np.random.default_rng(0)
    y = np.arange(600) % 4
    factors = rng.normal(size=(600, 6)) * np.array([40, 25, 15, 8, 4, 2]) + y[:, None] * 0.5
    X = (factors @ rng.normal(size=(6, 300)) + rng.normal(size=(600, 300))).astype(np.float32)
    fit = linear_head._Fit(X, y, 4, True, linear_head.class_weights)
    fit.run(1e-3)
    objective = fit._loss_and_gradient(fit.theta, 1e-3)[0]
    step_limit = linear_head.MAX_ITERATIONS
    try:  # the reference: the same objective, unscaled, with fifty times the steps
        linear_head.MAX_ITERATIONS = 50 * step_limit
        _, optimum = linear_head.minimise(lambda theta: fit._loss_and_gradient(theta, 1e-3), np.zeros_like(fit.theta))
    finally:
        linear_head.MAX_ITERATIONS = step_limit
    assert objective <= optimum + 1e-4 * abs(optimum)
