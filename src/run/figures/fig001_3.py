#!/usr/bin/env python3
# Written by `dln figure 001-fig3` (template: src/run/figures/fig001_3.py in dln's source).
# 001 Fig. 3 (Tarmoun et al.): training loss of the sigmoid-output one-layer model vs the
# two-layer model with ||Q0|| = 0 (left) and ||Q0|| = 4.6 (right), one W(0) for all.
# Reads */trajectory.csv beside it; saves figure.png and figure.svg.
# Edit freely; rerun with: python3 plot.py
import csv, os, sys
try:
    import matplotlib
    matplotlib.use(os.environ.get('MPLBACKEND', 'Agg'))
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(3)  # dln reports: python3-matplotlib not found

HERE = os.path.dirname(os.path.abspath(__file__))


def load(sub):
    with open(os.path.join(HERE, sub, 'trajectory.csv'), newline='') as f:
        rows = csv.reader(f)
        names = next(rows)
        cols = {n: [] for n in names}
        for r in rows:
            for n, v in zip(names, r):
                cols[n].append(float(v))
    return cols


one = load('one_layer')
fig, ax = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for a, sub, q in ((ax[0], 'two_layer_q0_0', '0'), (ax[1], 'two_layer_q0_4.6', '4.6')):
    two = load(sub)
    a.semilogy(one['t'], one['loss'], '--', label='one layer')
    a.semilogy(two['t'], two['loss'], '-', label='two layers (width 100)')
    a.set_title('||Q0||_2 = %s' % q, fontsize=9)
    a.set_xlabel('t = k eta')
    a.legend(fontsize=7)
ax[0].set_ylabel('training loss 1/2 ||Y - s(W X)||^2')
fig.suptitle('001 Fig. 3: sigmoid output, gradient descent, eta = 1e-3')
fig.tight_layout()
for ext in ('png', 'svg'):
    tmp = os.path.join(HERE, '.figure.tmp.' + ext)
    fig.savefig(tmp, dpi=110, format=ext)
    os.replace(tmp, os.path.join(HERE, 'figure.' + ext))
