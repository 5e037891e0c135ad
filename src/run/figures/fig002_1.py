#!/usr/bin/env python3
# Written by `dln figure 002-fig1` (template: src/run/figures/fig002_1.py in dln's source).
# 002 Fig. 1 left / Claim 1 (Cohen, Razin): l4 regression by gradient descent, linear model
# vs 2- and 3-layer networks. Left: iterations to reach eps against the step size (gaps:
# not reached or diverged); right: the loss at each model's best step size. Reads grid.csv,
# best.csv and runs/*/trajectory.csv beside it; saves figure.png and figure.svg.
# Edit freely; rerun with: python3 plot.py
import csv, math, os, sys
try:
    import matplotlib
    matplotlib.use(os.environ.get('MPLBACKEND', 'Agg'))
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(3)  # dln reports: python3-matplotlib not found

HERE = os.path.dirname(os.path.abspath(__file__))


def table(name):
    with open(os.path.join(HERE, name), newline='') as f:
        rows = csv.reader(f)
        names = next(rows)
        return [dict(zip(names, map(float, r))) for r in rows]


def load(sub):
    with open(os.path.join(HERE, 'runs', sub, 'trajectory.csv'), newline='') as f:
        rows = csv.reader(f)
        names = next(rows)
        cols = {n: [] for n in names}
        for r in rows:
            for n, v in zip(names, r):
                cols[n].append(float(v))
    return cols


label = {1: 'linear', 2: '2 layer LNN', 3: '3 layer LNN'}
fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
grid = table('grid.csv')
for d in (1, 2, 3):
    rows = [r for r in grid if r['depth'] == d]
    a1.loglog([r['eta'] for r in rows], [r['iterations'] for r in rows], 'o-', label=label[d])
for b in table('best.csv'):
    if b['best_index'] < 0:
        continue
    c = load('depth%d_eta%02d' % (b['depth'], b['best_index']))
    a2.semilogy(c['step'], c['loss'], label='%s, eta = %.3g' % (label[int(b['depth'])], b['best_eta']))
a1.set_xlabel('step size eta')
a1.set_ylabel('iterations to reach eps')
a1.legend(fontsize=8)
a2.set_xlabel('iteration')
a2.set_ylabel('l4 loss')
a2.legend(fontsize=8)
fig.suptitle('002 Fig. 1: l4 regression, gradient descent from a near-zero start')
fig.tight_layout()
for ext in ('png', 'svg'):
    tmp = os.path.join(HERE, '.figure.tmp.' + ext)
    fig.savefig(tmp, dpi=110, format=ext)
    os.replace(tmp, os.path.join(HERE, 'figure.' + ext))
