"""AutoML's pieces: the validation split, the plan, imbalance handling, val metrics."""

import numpy as np

from labelgate.backends.local.training.learners import automl


def test_single_label_split_is_stratified_and_gives_every_label_a_validation_image():
    rng = np.random.default_rng(1)
    sets = [(int(x),) for x in rng.integers(0, 5, 300)] + [(5,), (5,)]
    train, val = automl.split_validation(sets, 6, seed=0)
    assert sorted([*train, *val]) == list(range(len(sets)))
    counts = np.bincount([sets[i][0] for i in val], minlength=6)
    totals = np.bincount([s[0] for s in sets], minlength=6)
    assert (counts >= 1).all()
    assert np.all(np.abs(counts[:5] - 0.15 * totals[:5]) <= 1.5)
    assert counts[5] == 1  # a label with 2 images: one each side


def test_multilabel_split_keeps_each_label_near_fifteen_percent():
    rng = np.random.default_rng(2)
    rates = np.array([0.6, 0.3, 0.1, 0.03])
    sets = [tuple(np.flatnonzero(rng.random(4) < rates)) for _ in range(400)]
    _, val = automl.split_validation(sets, 4, seed=0)
    share = np.zeros(4)
    total = np.zeros(4)
    for i, labels in enumerate(sets):
        total[list(labels)] += 1
        if i in set(val):
            share[list(labels)] += 1
    assert np.all(np.abs(share / total - 0.15) < 0.05)


def test_split_depends_on_the_seed_only():
    sets = [(i % 3,) for i in range(60)]
    a = automl.split_validation(sets, 3, seed=4)
    b = automl.split_validation(sets, 3, seed=4)
    c = automl.split_validation(sets, 3, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])


def test_too_few_images_train_on_everything():
    train, val = automl.split_validation([(0,), (1,), (0,), (1,)], 2, seed=0)
    assert len(train) == 4 and len(val) == 0


def test_plan_is_sized_from_data_and_device():
    cpu = automl.plan_classifier(
        multilabel=False, n_train=2600, n_images=3068, median_short_side=224,
        device_type="cpu", time_budget_s=None,
    )  # fmt: skip
    assert cpu.train_resolution == 160 and cpu.eval_resolutions == (192, 160, 224)
    assert cpu.freeze_early and cpu.search and cpu.linear_probe
    assert abs(cpu.time_budget_s - 0.17 * 3068) < 1e-6
    small = automl.plan_classifier(
        multilabel=False, n_train=40, median_short_side=48, device_type="cpu", time_budget_s=5
    )
    assert small.train_resolution == 64 and small.max_epochs == automl.MAX_EPOCHS
    assert small.time_budget_s == 5
    gpu = automl.plan_classifier(
        multilabel=True, n_train=500, median_short_side=640, device_type="cuda", time_budget_s=None
    )
    assert gpu.train_resolution == 224 and not gpu.freeze_early
    fixed = automl.plan_classifier(
        multilabel=False, n_train=100, median_short_side=224, device_type="cpu",
        time_budget_s=None, search=False, max_epochs=3,
    )  # fmt: skip
    assert not fixed.search and fixed.max_epochs == 3 and fixed.eval_resolutions == (160,)
    assert not fixed.linear_probe and not fixed.try_flip_tta
    assert set(cpu.record()) >= {"train_resolution", "aug", "lr_backbone", "max_epochs"}


def test_imbalance_weights_only_when_counts_differ():
    assert automl.class_weights(np.array([10.0, 12.0, 11.0])) is None
    weights = automl.class_weights(np.array([90.0, 10.0]))
    assert weights[1] > weights[0]
    assert abs((weights * [90, 10]).sum() - 100) < 1e-4  # the mean image weighs 1
    pos = automl.positive_weights(np.array([50.0, 10.0, 99.0]), 100)
    assert pos[0] == 1.0 and abs(pos[1] - 3.0) < 1e-6 and pos[2] == 1.0


def test_validation_metrics():
    truth = np.array([0, 0, 1, 1, 2])
    assert automl.macro_f1(truth, truth, 3) == 1.0
    assert abs(automl.macro_f1(truth, np.array([0, 0, 1, 1, 1]), 3) - (1 + 0.8 + 0) / 3) < 1e-9
    hot = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    assert automl.mean_average_precision(hot, hot.astype(float)) == 1.0
    scores = np.array([[0.9, 0.1], [0.8, 0.9], [0.1, 0.2], [0.2, 0.3]])
    # label 0: positives ranked 1st and 4th → (1 + 2/4) / 2; label 1: 1st and 3rd → (1 + 2/3)/2
    expected = ((1 + 0.5) / 2 + (1 + 2 / 3) / 2) / 2
    assert abs(automl.mean_average_precision(hot, scores) - expected) < 1e-9
