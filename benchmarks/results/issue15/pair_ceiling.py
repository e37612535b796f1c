# ruff: noqa
# Exploration script of issue 15 (stop 32), kept as the record of how pair-ceiling.jsonl was
# made; not a maintained benchmark.
"""Issue 15, stop 32: how far the pair-verification target (90 %) is from the recipe's
distances, whatever the threshold.

For each full-length seed of the final table: the paper's protocol as the CLI runs it (900
test pairs of Cr/PS/Sc, threshold chosen on 900 validation pairs of RS/Pa/In), and, NOT a
method, the accuracy at the threshold that is best on the test pairs themselves: the
ceiling of any threshold rule on these distances.

usage: pair_ceiling.py RUN_DIR:SPLIT:SEED ...
"""

import sys

from common import append, trained_runs
from oneshot_steel.evaluate import best_threshold, pair_verification

for (run, split_name, seed), split, net in trained_runs(sys.argv[1:]):
    r = pair_verification(net, split.test, 900, seed=0, val_set=split.val)
    oracle_threshold, oracle = best_threshold(r.distances, r.same)
    row = {"run": run, "split": split_name, "seed": seed, "auc": round(r.auc, 4)}
    row |= {"eer": round(100 * r.eer, 2), "val_threshold": round(r.val_threshold, 4)}
    row |= {"accuracy_at_val_threshold": round(100 * r.accuracy_at_val_threshold, 2)}
    row |= {"test_chosen_threshold": round(oracle_threshold, 4), "ceiling": round(100 * oracle, 2)}
    append("pair-ceiling.jsonl", row)
