#!/usr/bin/env python3
# Written by `dln figure 001-fig1` (template: src/run/figures/fig001_1.py in dln's source).
# 001 Fig. 1 (Tarmoun et al.): reconstruction error of one- vs two-layer models under
# gradient descent from three init scales (left), and the singular values of the
# sigma = 1e-2 two-layer run (right). Reads runs/*/trajectory.csv beside it; saves
# figure.png and figure.svg. Edit freely; rerun with: python3 plot.py
import csv, os, sys
try:
    import matplotlib
    matplotlib.use(os.environ.get('MPLBACKEND', 'Agg'))
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(3)  # dln reports: python3-matplotlib not found

HERE = os.path.dirname(os.path.abspath(__file__))


def load(sub):
    with open(os.path.join(HERE, 'runs', sub, 'trajectory.csv'), newline='') as f:
        rows = csv.reader(f)
        names = next(rows)
        cols = {n: [] for n in names}
        for r in rows:
            for n, v in zip(names, r):
                cols[n].append(float(v))
    return cols


fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
for i, s in enumerate(['1e-2', '1e-1', '1']):
    for two, ls in ((0, '--'), (1, '-')):
        c = load('sigma%s_%s' % (s, 'two_layer' if two else 'one_layer'))
        pts = [(t, e) for t, e in zip(c['t'], c['recon_err']) if t > 0 and e > 0]
        a1.loglog([p[0] for p in pts], [p[1] for p in pts], ls, color='C%d' % i,
                  label='%s, sigma = %s' % ('two-layer' if two else 'one-layer', s))
a1.set_xlabel('t = k eta')
a1.set_ylabel('reconstruction error')
a1.legend(fontsize=7)
c = load('sigma1e-2_two_layer')
for n in sorted(k for k in c if k.startswith('sv_')):
    a2.semilogx([t for t in c['t'] if t > 0], [v for t, v in zip(c['t'], c[n]) if t > 0], label=n)
a2.set_xlabel('t = k eta')
a2.set_title('singular values, two-layer, sigma = 1e-2', fontsize=9)
a2.legend(fontsize=7)
fig.suptitle('001 Fig. 1: gradient descent, eta = 1e-3')
fig.tight_layout()
for ext in ('png', 'svg'):
    tmp = os.path.join(HERE, '.figure.tmp.' + ext)
    fig.savefig(tmp, dpi=110, format=ext)
    os.replace(tmp, os.path.join(HERE, 'figure.' + ext))
