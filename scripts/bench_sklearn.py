"""scikit-learn side of benches/probe.rs: the same 5-fold logistic sweep over the same layer
arrays (written by the bench as .npy), LogisticRegression(C=1, lbfgs) on standardised inputs,
as mindlens does. Prints one JSON object."""
import json, os, sys, time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

d = sys.argv[1]
y = np.load(os.path.join(d, "y.npy"))
folds = np.load(os.path.join(d, "folds.npy"))
layers = sorted(int(f[6:-4]) for f in os.listdir(d) if f.startswith("layer_"))
xs = [np.load(os.path.join(d, f"layer_{l}.npy")) for l in layers]
t = time.perf_counter()
accs = []
for x in xs:
    fold_acc = []
    for k in range(int(folds.max()) + 1):
        tr, te = folds != k, folds == k
        sc = StandardScaler().fit(x[tr])
        clf = LogisticRegression(C=1.0, max_iter=1000).fit(sc.transform(x[tr]), y[tr])
        fold_acc.append(clf.score(sc.transform(x[te]), y[te]))
    accs.append(float(np.mean(fold_acc)))
secs = time.perf_counter() - t
print(json.dumps({"bench": "probe_sweep_30x2000x576_5fold", "impl": "scikit-learn", "seconds": secs,
                  "mean_accuracy": float(np.mean(accs)), "accuracies": accs}))
