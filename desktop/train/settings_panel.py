"""The Train view's left column: what will happen in plain words, the simple choices (network, fine-tuning
and its time limit, device), the details folded under Advanced, and the Train button (disabled with the
reason when a run cannot start)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.models.backbones import get_backbone, list_backbones
from core.training.devices import DevicesFound
from desktop.train.choices import AUTOMATIC, TrainChoices
from desktop.widgets.icons import icon

INPUT_SIZES = (32, 64, 96, 128, 160, 192, 224, 256)
WEIGHTS_FILTER = "Weights files (*.safetensors *.pth *.pt *.bin);;All files (*)"


class TrainSettingsPanel(QWidget):
    changed = Signal()  # any choice changed
    train_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.summary = _wrapping_label("")
        self.summary.setObjectName("trainSummary")
        font = self.summary.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.summary.setFont(font)
        self.problem = _wrapping_label("")  # why Train is disabled, or warnings
        self.problem.setObjectName("trainProblem")

        self.backbone = QComboBox()
        for spec in list_backbones():
            title = spec.title if spec.offline else f"{spec.title}  (needs a download)"
            self.backbone.addItem(title, spec.name)
            tip = ("Its ImageNet weights come with Dovecote: works offline." if spec.offline else
                   "Its ImageNet weights are downloaded on first use (needs the internet), "
                   "or read from a weights file you have.")
            self.backbone.setItemData(self.backbone.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.download_note = _wrapping_label("")
        self.weights_button = QPushButton("Use a weights file…")
        self.weights_button.setToolTip("Read this network's weights from a .safetensors or .pth file instead "
                                       "of downloading them")
        self.weights_button.clicked.connect(self._choose_weights)
        self._weights = ""
        self.fine_tune = QCheckBox("Fine-tune the network")
        self.fine_tune_note = _wrapping_label("Slower, often better: after the quick training, the network "
                                              "itself learns from varied copies of your images.")
        self.fine_tune_note.setStyleSheet("color: gray;")
        self.fine_tune.setToolTip("After the quick training, train the network on varied copies of your "
                                  "images: on a CPU its last layers, as many as fit the time limit; on a GPU "
                                  "all of them. Kept only if it does better than the quick training.")
        self.fine_tune_minutes = _spin(1, 24 * 60, "", "")
        self.fine_tune_minutes.setSuffix(" min")
        self.fine_tune_minutes.setPrefix("up to ")
        self.device = QComboBox()
        for box in (self.backbone, self.device):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(16)
        self.device_note = _wrapping_label("")
        self.set_devices(None)

        self.advanced_button = QToolButton()
        self.advanced_button.setText("Advanced")
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_button.setAutoRaise(True)
        self.advanced = QWidget()
        self.epochs = _spin(0, 1000, "Automatic", "Most epochs: the head stops earlier when it stops improving "
                            "(automatic: 100); fine-tuning runs them all (automatic: 10)")
        self.val_percent = _spin(0, 50, "", "Share of each class kept aside to check the model during training "
                                 "(0: train on everything, without early stopping)")
        self.val_percent.setSuffix(" %")
        self.seed = _spin(0, 2**31 - 1, "", "Same seed, same images, same computer: same result")
        self.augment = QCheckBox("Vary the images")
        self.augment.setToolTip("While fine-tuning, show the network randomly cropped, rotated and contrasted "
                                "copies of the images: it learns what matters rather than the exact pixels")
        self.flip = QCheckBox("Mirror images")
        self.flip.setToolTip("Also mirrored copies. Turn off for text, digits, anything a mirror changes")
        self.batch_size = _spin(0, 1024, "Automatic", "Images per training step (automatic: 128 for the "
                                "head, 32 for fine-tuning); smaller needs less memory")
        self.input_size = QComboBox()
        self.input_size.addItem("Automatic", AUTOMATIC)
        for size in INPUT_SIZES:
            self.input_size.addItem(f"{size} × {size} pixels", size)
        self.input_size.setToolTip("The network's input size. Automatic: the network's own (224) for quick "
                                   "training; smaller for small images when fine-tuning")
        form = QFormLayout(self.advanced)
        form.setContentsMargins(16, 0, 0, 0)
        form.addRow("Epochs", self.epochs)
        form.addRow("Validation", self.val_percent)
        form.addRow("Seed", self.seed)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Image size", self.input_size)
        form.addRow(self.augment)
        form.addRow(self.flip)
        self.advanced.hide()

        self.train_button = QPushButton(icon("train"), "Train")  # placed by the view, always in sight
        self.train_button.setObjectName("trainButton")
        self.train_button.setDefault(True)
        self.train_button.setMinimumHeight(34)
        self.train_button.clicked.connect(self.train_requested)

        choices = QFormLayout()
        choices.addRow("Network", self.backbone)
        weights_row = QHBoxLayout()
        weights_row.addWidget(self.download_note, 1)
        weights_row.addWidget(self.weights_button)
        choices.addRow("", weights_row)
        choices.addRow("", self.fine_tune)
        choices.addRow("", self.fine_tune_note)
        choices.addRow("Time", self.fine_tune_minutes)
        choices.addRow("Device", self.device)
        choices.addRow("", self.device_note)
        column = QVBoxLayout(self)
        column.addWidget(self.summary)
        column.addWidget(self.problem)
        column.addSpacing(6)
        column.addLayout(choices)
        column.addWidget(self.advanced_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addWidget(self.advanced)
        column.addStretch(1)

        self.advanced_button.toggled.connect(self._show_advanced)
        self.backbone.currentIndexChanged.connect(self._backbone_changed)
        for box in (self.device, self.input_size):
            box.currentIndexChanged.connect(lambda _i: self._changed())
        for spin in (self.fine_tune_minutes, self.epochs, self.val_percent, self.seed, self.batch_size):
            spin.valueChanged.connect(lambda _v: self._changed())
        for check in (self.fine_tune, self.augment, self.flip):
            check.toggled.connect(lambda _on: self._changed())
        self._loading = False
        self.set_choices(TrainChoices())

    # -- the choices ------------------------------------------------------------------------------------------
    def choices(self) -> TrainChoices:
        return TrainChoices(
            backbone=self.backbone.currentData(), weights_path=self._weights, fine_tune=self.fine_tune.isChecked(),
            fine_tune_minutes=self.fine_tune_minutes.value(), device=self.device.currentData() or "auto",
            epochs=self.epochs.value(), val_fraction=self.val_percent.value() / 100, seed=self.seed.value(),
            augment=self.augment.isChecked(), flip=self.flip.isChecked(), batch_size=self.batch_size.value(),
            input_size=self.input_size.currentData())

    def set_choices(self, choices: TrainChoices) -> None:
        self._loading = True
        try:
            self.backbone.setCurrentIndex(max(0, self.backbone.findData(choices.backbone)))
            self._weights = choices.weights_path if choices.weights_path and Path(choices.weights_path).is_file() else ""
            self.fine_tune.setChecked(choices.fine_tune)
            self.fine_tune_minutes.setValue(choices.fine_tune_minutes)
            self._wanted_device = choices.device
            self._select_device(choices.device)
            self.epochs.setValue(choices.epochs)
            self.val_percent.setValue(round(choices.val_fraction * 100))
            self.seed.setValue(choices.seed)
            self.augment.setChecked(choices.augment)
            self.flip.setChecked(choices.flip)
            self.batch_size.setValue(choices.batch_size)
            self.input_size.setCurrentIndex(max(0, self.input_size.findData(choices.input_size)))
        finally:
            self._loading = False
        self._update_dependents()

    def set_devices(self, found: DevicesFound | None) -> None:
        """The GPUs found (None: still looking). A GPU choice is greyed out, with the reason, when none."""
        wanted = getattr(self, "_wanted_device", None) or self.device.currentData() or "auto"
        self.device.blockSignals(True)
        self.device.clear()
        self.device.addItem("Automatic (the GPU if there is one)", "auto")
        self.device.addItem("CPU", "cpu")
        gpus = found.gpus if found is not None else ()
        for gpu in gpus:
            self.device.addItem(f"GPU: {gpu.title}", gpu.name)
        if not gpus:
            self.device.addItem("GPU: looking…" if found is None else "GPU: none found", "")
            item = self.device.model().item(self.device.count() - 1) if isinstance(
                self.device.model(), QStandardItemModel) else None
            if item is not None:
                item.setEnabled(False)
                item.setToolTip(found.reason if found is not None else "Looking for GPUs…")
        self.device_note.setText("" if found is None or gpus else found.reason)
        self.device_note.setVisible(bool(self.device_note.text()))
        self._select_device(wanted)
        self.device.blockSignals(False)

    def _select_device(self, name: str) -> None:
        index = self.device.findData(name) if name else -1
        self.device.setCurrentIndex(index if index >= 0 else 0)

    def gpu_available(self) -> bool:
        return any(str(self.device.itemData(i) or "").startswith(("cuda", "mps")) for i in range(self.device.count()))

    # -- what the view tells -----------------------------------------------------------------------------------
    def set_summary(self, text: str) -> None:
        self.summary.setText(text)

    def set_problem(self, blocked: str | None, warnings: tuple[str, ...] = ()) -> None:
        """Train is disabled with `blocked` as the reason; warnings are shown without stopping anything."""
        self.train_button.setEnabled(blocked is None)
        self.train_button.setToolTip(blocked or "Start training with these settings")
        text = blocked or "\n".join(f"⚠ {w}" for w in warnings)
        self.problem.setText(text)
        self.problem.setVisible(bool(text))
        self.problem.setProperty("severity", "error" if blocked else "warning")
        colour = "#c0392b" if blocked else "#b9770e"
        self.problem.setStyleSheet(f"color: {colour};")

    def set_running(self, running: bool) -> None:
        for widget in (self.backbone, self.weights_button, self.fine_tune, self.fine_tune_minutes, self.device,
                       self.advanced):
            widget.setEnabled(not running)
        if running:
            self.train_button.setEnabled(False)
            self.train_button.setToolTip("A run is going; wait for it or stop it")
        else:
            self._update_dependents()  # the time limit stays off without fine-tuning

    # -- reactions ------------------------------------------------------------------------------------------------
    def _changed(self) -> None:
        self._update_dependents()
        if not self._loading:
            if self.device.currentData():
                self._wanted_device = self.device.currentData()
            self.changed.emit()

    def _update_dependents(self) -> None:
        spec = get_backbone(self.backbone.currentData())
        needs_download = not spec.offline
        if self._weights:
            self.download_note.setText(f"Weights: {Path(self._weights).name}")
        elif needs_download:
            self.download_note.setText("Downloads its weights on first use (needs the internet).")
        self.download_note.setVisible(needs_download or bool(self._weights))
        self.weights_button.setVisible(needs_download or bool(self._weights))
        timed = self.fine_tune.isChecked() and self.epochs.value() == AUTOMATIC
        self.fine_tune_minutes.setEnabled(timed)
        self.fine_tune_minutes.setToolTip(
            "The most the whole run may take; fine-tuning is planned to fit and re-planned as it goes" if timed else
            "Fine-tuning runs the epochs set under Advanced, without a time limit" if self.fine_tune.isChecked()
            else "The time limit of fine-tuning")
        self.augment.setEnabled(self.fine_tune.isChecked())
        self.flip.setEnabled(self.fine_tune.isChecked() and self.augment.isChecked())

    def _backbone_changed(self, _index: int) -> None:
        if not self._loading:
            self._weights = ""  # a weights file belongs to the network it was chosen for
        self._changed()

    def _show_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _choose_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights file for this network", "", WEIGHTS_FILTER)
        if path:
            self.set_weights(path)

    def set_weights(self, path: str) -> None:
        self._weights = path
        self._changed()


def _wrapping_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _spin(low: int, high: int, special: str, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    if special:
        spin.setSpecialValueText(special)
    spin.setToolTip(tip)
    return spin
