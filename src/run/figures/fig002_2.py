#!/usr/bin/env python3
# Written by `dln figure 002-fig2` (template: src/run/figures/fig002_2.py in dln's source).
# 002 Fig. 2: matrix completion by depth-2 and depth-3 linear networks vs the minimum
# nuclear norm solution, as the number of observed entries m grows: relative
# reconstruction error (left) and nuclear norm (right). Reads completion.csv beside it;
# saves figure.png and figure.svg. Edit freely; rerun with: python3 plot.py
import csv, math, os, sys
try:
    import matplotlib
    matplotlib.use(os.environ.get('MPLBACKEND', 'Agg'))
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(3)  # dln reports: python3-matplotlib not found

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, 'completion.csv'), newline='') as f:
    rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]

fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
base = sorted({(r['m'], r['base_err'], r['base_nuc']) for r in rows})
a1.plot([b[0] for b in base], [b[1] for b in base], 'k--', marker='s', label='min nuclear')
a2.plot([b[0] for b in base], [b[2] for b in base], 'k--', marker='s', label='min nuclear')
for d, mk in ((2, 'o'), (3, '^')):
    rs = [r for r in rows if r['depth'] == d and not math.isnan(r['err_mean'])]
    a1.plot([r['m'] for r in rs], [r['err_mean'] for r in rs], marker=mk, label='%d layer LNN' % d)
    a2.plot([r['m'] for r in rs], [r['nuc_mean'] for r in rs], marker=mk, label='%d layer LNN' % d)
a1.set_yscale('log')
a1.set_xlabel('observed entries m')
a1.set_ylabel('|W - W_true|_F / |W_true|_F')
a1.set_title('reconstruction error (converged runs)', fontsize=9)
a2.set_yscale('log')
a2.set_xlabel('observed entries m')
a2.set_ylabel('nuclear norm |W|_*')
a2.set_title('nuclear norm (|W_true|_* = 60)', fontsize=9)
for a in (a1, a2):
    a.legend(fontsize=8)
fig.suptitle('002 Fig. 2: 20x20 rank-2 completion, depth 2 and 3 vs min nuclear norm')
fig.tight_layout()
for ext in ('png', 'svg'):
    tmp = os.path.join(HERE, '.figure.tmp.' + ext)
    fig.savefig(tmp, dpi=110, format=ext)
    os.replace(tmp, os.path.join(HERE, 'figure.' + ext))
