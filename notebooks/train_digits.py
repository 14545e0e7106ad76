"""Train a small CNN on sklearn's digits and record every epoch into a run log.

    python train_digits.py --store runs.db --run digits-cnn --epochs 8

Open the log in a notebook (``train_to_log.ipynb``), also while this script runs::

    ConfusionWidget.from_store("runs.db", run="digits-cnn")

The validation loader shuffles on purpose: the recorder aligns every epoch to the
first one by sample id (here the index into the validation set).
"""

from __future__ import annotations

import argparse

import torch

from confusion_widget import ConfusionRecorder
from confusion_widget.demo import DigitsCNN, load_digits_split, train_epoch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="runs.db", help="the run log (SQLite file)")
    parser.add_argument("--run", default="digits-cnn", help="the run's name in the log")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--if-exists", default="error", choices=["error", "resume", "overwrite"],
                        help="when the run name is already in the log: raise, continue its epoch "
                        "numbering (this demo does not checkpoint the model), or replace it")
    args = parser.parse_args(argv)

    data = load_digits_split(seed=args.seed)
    model = DigitsCNN(seed=args.seed)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    val = torch.utils.data.TensorDataset(
        torch.from_numpy(data.x_val), torch.from_numpy(data.y_val), torch.arange(len(data.y_val)))
    val_loader = torch.utils.data.DataLoader(val, batch_size=128, shuffle=True)
    classes = [str(d) for d in range(10)]

    # images= is indexed by sample id (the validation index): given once, stored
    # once as thumbnails in the log, so the notebook needs no dataset.
    with ConfusionRecorder(classes, images=data.images_val, store=args.store, run=args.run,
                           params=vars(args), if_exists=args.if_exists) as rec:
        for epoch in range(rec.n_epochs, rec.n_epochs + args.epochs):
            loss = train_epoch(model, opt, data.x_train, data.y_train)
            model.eval()
            with torch.no_grad():
                for x, y, idx in val_loader:
                    rec.update(model(x), y, sample_ids=idx)
            cm = rec.end_epoch()  # one transaction in the log
            print(f"epoch {epoch}: loss {loss:.3f}, val accuracy {cm.trace() / cm.sum():.3f}", flush=True)


if __name__ == "__main__":
    main()
