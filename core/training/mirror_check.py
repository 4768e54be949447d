"""Whether a fine-tuned model classifies each image as the mean of its and its mirror image's probabilities:
the rule validation decides by, and how a run says what it decided. Light (no torch): the CLI's summary reads
it too."""
from __future__ import annotations


def mirror_averaging_pays(plain_acc: float, plain_loss: float, both_acc: float, both_loss: float) -> bool:
    """Averaging with the mirror image runs the network twice per image (classifying at half the speed): only
    when it lowers the validation loss and does not lower the accuracy. The loss weighs every image's
    probability, where a few hundred validation images often tie on accuracy. benchmarks/bench_training.py
    --part finetune (300 s): 30 % jittered animal silhouettes tied at 0.930 with the loss 0.240 -> 0.219, and on
    the test images averaging gave 0.935 -> 0.946; it lowered the test loss on all four sets measured."""
    return both_loss < plain_loss and both_acc >= plain_acc


def mirror_check_text(check: dict) -> str:
    """What validation said of averaging with the mirror image, and the choice (a run's Notice, its summary)."""
    choice = ("each image is classified with its mirror image (twice the work)" if check["chosen"] else
              "not worth classifying each image twice")
    return (f"Averaging with the mirror image: validation accuracy {check['val_acc']:.1%} -> "
            f"{check['val_acc_with_flip']:.1%}, loss {check['val_loss']:.3f} -> {check['val_loss_with_flip']:.3f}: "
            f"{choice}.")
