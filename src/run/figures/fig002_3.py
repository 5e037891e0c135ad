#!/usr/bin/env python3
# Written by `dln figure 002-fig3` (template: src/run/figures/fig002_3.py in dln's source).
# 002 Fig. 3 (Cohen, Razin): singular values of W during gradient descent on matrix sensing,
# linear model (left), 2-layer (middle) and 3-layer (right); vertical lines: learning times
# t_i. Reads runs/depth*/trajectory.csv and times.csv beside it; saves figure.png and
# figure.svg. Edit freely; rerun with: python3 plot.py
import csv, os, sys
try:
    import matplotlib
    matplotlib.use(os.environ.get('MPLBACKEND', 'Agg'))
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(3)  # dln reports: python3-matplotlib not found

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path):
    with open(os.path.join(HERE, path), newline='') as f:
        rows = csv.reader(f)
        names = next(rows)
        cols = {n: [] for n in names}
        for r in rows:
            for n, v in zip(names, r):
                cols[n].append(float(v))
    return cols


times = load('times.csv')
fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
for k, (ax, title) in enumerate(zip(axes, ('linear', '2 layer LNN', '3 layer LNN'))):
    c = load(os.path.join('runs', 'depth%d' % (k + 1), 'trajectory.csv'))
    for n in sorted((n for n in c if n.startswith('sv_')), key=lambda s: int(s[3:])):
        ax.semilogx([t for t in c['t'] if t > 0], [v for t, v in zip(c['t'], c[n]) if t > 0],
                    lw=1.5 if int(n[3:]) <= 3 else 0.7)
    for i in (1, 2, 3):
        ax.axvline(times['t_%d' % i][k], color='gray', ls=':', lw=0.8)
    ax.set_title('%s (rel. recon. error %.2g)' % (title, times['recon_err_rel'][k]), fontsize=9)
    ax.set_xlabel('t = k eta')
axes[0].set_ylabel('singular values of W')
fig.suptitle('002 Fig. 3: matrix sensing, gradient descent')
fig.tight_layout()
for ext in ('png', 'svg'):
    tmp = os.path.join(HERE, '.figure.tmp.' + ext)
    fig.savefig(tmp, dpi=110, format=ext)
    os.replace(tmp, os.path.join(HERE, 'figure.' + ext))
