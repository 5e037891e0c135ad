#!/usr/bin/env python3
# Written by `dln figure 003-fig2` (template: src/run/figures/fig003_2.py in dln's source).
# 003 Fig. 2 (Min et al.): the loss against time for several levels of imbalance c at one
# initial end-to-end matrix (solid) with Theorem 1's bound (dashed), and the balanced start.
# Reads curves.csv beside it; saves figure.png and figure.svg. Edit freely; rerun with:
# python3 plot.py
import csv, math, os, sys
try:
    import matplotlib
    matplotlib.use(os.environ.get('MPLBACKEND', 'Agg'))
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(3)  # dln reports: python3-matplotlib not found

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, 'curves.csv'), newline='') as f:
    rows = csv.reader(f)
    names = next(rows)
    data = [dict(zip(names, map(float, r))) for r in rows]

fig, ax = plt.subplots(figsize=(6.5, 4.2))
for i, case in enumerate(sorted({r['case'] for r in data})):
    rs = [r for r in data if r['case'] == case]
    ratio, c = rs[0]['ratio'], rs[0]['c']
    lab = 'balanced (c = %.2g)' % c if ratio == 0 else 'sigma_U/sigma_V = %g, c = %.3g' % (ratio, c)
    pts = [(r['t'], r['loss']) for r in rs if r['loss'] > 1e-16]
    ax.semilogy([p[0] for p in pts], [p[1] for p in pts], '-', color='C%d' % i, label=lab)
    bd = [(r['t'], r['bound']) for r in rs if not math.isnan(r['bound']) and r['bound'] > 1e-16]
    if bd:
        ax.semilogy([p[0] for p in bd], [p[1] for p in bd], '--', color='C%d' % i, lw=0.9)
ax.set_xlabel('t (gradient flow)')
ax.set_ylabel('loss 1/2||W X - Y||^2')
ax.legend(fontsize=7)
ax.set_title('003 Fig. 2: imbalance at a fixed W(0); dashed: Theorem 1 bound', fontsize=9)
fig.tight_layout()
for ext in ('png', 'svg'):
    tmp = os.path.join(HERE, '.figure.tmp.' + ext)
    fig.savefig(tmp, dpi=110, format=ext)
    os.replace(tmp, os.path.join(HERE, 'figure.' + ext))
