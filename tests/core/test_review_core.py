"""Core parts of the review loop: predictions for unlabelled images, accepted suggestions as one undoable
step with their source, kept labels, what changed between two matrices, and Grad-CAM on the real weights."""
from __future__ import annotations

import shutil

import numpy as np
from colourproject import COLOURS
from evalproject import trained_project
from PIL import Image

from core.evaluation.comparison import confusion_changes
from core.evaluation.metrics import confusion
from core.evaluation.review import load_review
from core.evaluation.unlabelled import UnlabelledPredicted, predict_unlabelled
from core.importing.scanning import import_folder
from core.project import Project
from core.storage import catalog, gallery, labels, runs
from core.storage.gallery import GalleryQuery


def test_unlabelled_images_get_the_models_prediction(colour_project, tmp_path):
    source, run_id = colour_project
    root = tmp_path / "copy"
    shutil.copytree(source, root)
    Image.new("RGB", (64, 48), COLOURS["red"]).save(root / "new_red.png")
    Image.new("RGB", (64, 48), (120, 60, 130)).save(root / "new_purple.png")
    with Project.open(root) as project:
        for _ in import_folder(project):
            pass
        done = [e for e in predict_unlabelled(project, run_id, device="cpu") if isinstance(e, UnlabelledPredicted)]
        assert done == [UnlabelledPredicted(run_id, 2)]
        with project.session() as session:
            red = catalog.image_by_path(session, "new_red.png").id
            purple = catalog.image_by_path(session, "new_purple.png").id
            names = {c.id: c.name for c in labels.list_classes(session)}
            cards = gallery.cards(session, [red, purple])
            assert names[cards[red].predicted_class_id] == "red" and cards[red].confidence > 0.5
            source_run = gallery.unlabelled_prediction_source(session)
            assert source_run.run_id == run_id and not source_run.stale
            order = gallery.image_ids(session, GalleryQuery(sort=gallery.SORT_CONFIDENCE))
            assert set(order[:2]) == {red, purple}  # the predicted (unlabelled) ones first, least confident first
            assert [cards[i].confidence for i in order[:2]] == sorted(cards[i].confidence for i in order[:2])
            predicted_red = gallery.image_ids(session, GalleryQuery(show=gallery.SHOW_PREDICTED,
                                                                    class_id=cards[red].predicted_class_id))
            assert red in predicted_red
            labels.set_labels(session, [red], cards[red].predicted_class_id, labels.ACCEPTED_PREDICTION)
            assert gallery.unlabelled_prediction_source(session).stale  # labels moved on since the model


def test_accepting_several_suggestions_is_one_undoable_step_with_its_source(tmp_path):
    project, run_id = trained_project(tmp_path / "pets", max_epochs=10)
    with project:
        data = load_review(project, run_id)
        evaluation = data.evaluation
        suspects = data.suspects({})
        assert suspects, "the misfiled images are suspected"
        wanted = {s.image_id: evaluation.class_ids[evaluation.class_names.index(s.suggested)] for s in suspects}
        with project.session() as session:
            before = {r.id: r.class_id for r in catalog.images_by_ids(session, list(wanted))}
            labels.assign_labels(session, wanted, labels.ACCEPTED_SUGGESTION)
            assert [e.source for e in labels.recent_changes(session, 1)] == [labels.ACCEPTED_SUGGESTION]
            labels.undo(session)
            assert {r.id: r.class_id for r in catalog.images_by_ids(session, list(wanted))} == before
        first = suspects[0]
        with project.session() as session:
            runs.keep_labels(session, run_id, {first.image_id: before[first.image_id]})
        again = load_review(project, run_id)
        assert first.image_id not in [s.image_id for s in again.suspects({})]


def test_confusion_changes_name_the_cells_that_moved():
    names = ["cat", "dog"]
    proba = lambda predicted: np.eye(2)[predicted]  # noqa: E731
    before = confusion(np.array([0, 0, 0, 1]), proba([1, 1, 0, 1]), [1, 2, 3, 4], names)
    after = confusion(np.array([0, 0, 0, 1]), proba([0, 1, 0, 0]), [1, 2, 3, 4], names)
    changes = [(c.given, c.predicted, c.before, c.after) for c in confusion_changes(before, after)]
    assert sorted(changes) == [("cat", "dog", 2, 1), ("dog", "cat", 0, 1)]


def test_grad_cam_looks_at_the_flower():
    """The real EfficientNet-Lite0 ImageNet network explaining its prediction for sklearn's flower photo: the
    heat map is highest on the flower (orange) and low on the blue-green leaves around it."""
    import torch
    from sklearn.datasets import load_sample_images

    from core.models.backbone_nets import _extractor_from, build_imagenet_classifier
    from core.models.backbones import DEFAULT_BACKBONE, get_backbone
    from core.models.explain import crop_box, grad_cam
    from core.models.preprocessing import preprocess

    spec = get_backbone(DEFAULT_BACKBONE)
    classifier = build_imagenet_classifier(spec)
    extractor = _extractor_from(classifier, spec).eval()
    head = lambda features: classifier._fc(features[:, -classifier._fc.in_features:])  # noqa: E731
    picture = Image.fromarray(load_sample_images().images[1])
    heat, probabilities = grad_cam(extractor, head, torch.from_numpy(preprocess(picture, spec.preprocessing))[None])
    assert heat.shape == (spec.preprocessing.input_size,) * 2 and heat.max() == 1.0
    left, top, width, height = crop_box(picture.width, picture.height, spec.preprocessing)
    side = heat.shape[0]
    seen = np.asarray(picture.resize((side, side), box=(left * picture.width, top * picture.height,
                                                        (left + width) * picture.width,
                                                        (top + height) * picture.height))).astype(int)
    flower = seen[..., 0] > seen[..., 2] + 40
    assert heat[flower].mean() > 3 * heat[~flower].mean()
    assert flower[np.unravel_index(heat.argmax(), heat.shape)]
