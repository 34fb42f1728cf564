"""Why does the zero-shot model miss a label? Each answer's token log-probabilities on its rows.

For the first ``--rows`` rows of a test set whose gold label is ``--label``, one uncached fp32
forward per answer over the whole prompt and the answer (no calibration), as
``tests/test_zeroshot.py`` checks the plugin against: the mean log-probability of each answer
token, their sum, and which answer wins by the sum and by the first token alone.

    python benchmarks/answer_tokens.py --label prophylaxis --rows 40     # docs/served-llms.md
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import few_shot  # noqa: E402  (a sibling script: the task loading and the fit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="indications")
    parser.add_argument("--label", default="prophylaxis")
    parser.add_argument("--split", default="internal")
    parser.add_argument("--rows", type=int, default=40)
    args = parser.parse_args(argv)
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        session = few_shot.load_tasks([args.task], Path(tmp))
        data = session.data[args.task]
        classifier = few_shot.fit(session, args.task, {"cpu_bf16_inference": False, "calibrate": False}, seed=42)
        words = session.recipe(session.models[few_shot.MODEL], args.task)["answers"]
    tokenizer, model, prompt = classifier.tokenizer, classifier.model, classifier.prompt
    split = data.splits[args.split]
    column = list(data.labels).index(args.label)
    texts = [split.texts[i] for i in np.flatnonzero(split.y[:, column])[: args.rows]]
    tokens: dict[str, list[list[float]]] = {label: [] for label in data.labels}
    for text in texts:
        whole = prompt.prefix + prompt.lead + text + prompt.suffix
        start = len(tokenizer.encode(whole, add_special_tokens=False))
        for label in data.labels:
            ids = tokenizer.encode(whole + words[label], add_special_tokens=False)
            with torch.inference_mode():
                logits = model(input_ids=torch.tensor([ids])).logits[0].float()
            log_probs = torch.log_softmax(logits, dim=-1)
            tokens[label].append([float(log_probs[k - 1, ids[k]]) for k in range(start, len(ids))])
    print(f"{args.task}, {len(texts)} {args.split} rows labelled {args.label} (SYNTHETIC data); uncalibrated, fp32")
    print("| answer | tokens | mean log-probability per token | sum |")
    print("|---|---|---|---|")
    for label in data.labels:
        values = np.array(tokens[label])
        pieces = " ".join(f"`{t}`" for t in classifier.details["answer_tokens"][label])
        per_token = ", ".join(f"{v:.2f}" for v in values.mean(axis=0))
        print(f"| {label} | {pieces} | {per_token} | {values.sum(axis=1).mean():.2f} |")
    sums = np.array([[sum(t) for t in tokens[label]] for label in data.labels])
    firsts = np.array([[t[0] for t in tokens[label]] for label in data.labels])
    for name, values in (("the sum", sums), ("the first token", firsts)):
        winners, counts = np.unique(values.argmax(axis=0), return_counts=True)
        print(f"wins by {name}: " + ", ".join(f"{data.labels[w]} {c}" for w, c in zip(winners, counts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
