#!/usr/bin/env python3
# Written by `dln figure 002-prop5` (template: src/run/figures/fig002_p5.py in dln's source).
# 002 Prop. 5 (Cohen, Razin): |w11| against the loss at the samples with det W > 0, with the
# proof's bound (1 - sqrt(6 l))^2 / sqrt(6 l) (left); nuclear norm of W against t, solid
# while det W > 0, dotted after (right). Reads runs.csv and runs/*/trajectory.csv beside
# it; saves figure.png and figure.svg. Edit freely; rerun with: python3 plot.py
import csv, math, os, sys
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
ls = [10 ** (-k / 10) for k in range(8, 200)]
a1.loglog(ls, [(1 - math.sqrt(6 * l)) ** 2 / math.sqrt(6 * l) for l in ls], 'k--', label='bound (002 eq. 16)')
i = 0
for d in (2, 3):
    for bal in ('balanced', 'unbalanced'):
        for m in ('flow', 'gd'):
            c = load('depth%d_%s_%s_detpos' % (d, bal, m))
            pts = [(l, abs(w)) for l, w, s in zip(c['loss'], c['W_1_1'], c['det_sign']) if s > 0 and 0 < l < 1 / 6]
            lab = 'depth %d, %s, %s' % (d, bal, m)
            a1.loglog([p[0] for p in pts], [p[1] for p in pts], '.', color='C%d' % i, label=lab)
            t = [x for x in c['t'] if x > 0]
            nn = [v for x, v in zip(c['t'], c['nuclear_norm']) if x > 0]
            sg = [v for x, v in zip(c['t'], c['det_sign']) if x > 0]
            a2.loglog(t, [v if s > 0 else float('nan') for v, s in zip(nn, sg)], '-', color='C%d' % i, label=lab)
            a2.loglog(t, [v if s <= 0 else float('nan') for v, s in zip(nn, sg)], ':', color='C%d' % i)
            i += 1
a1.set_xlabel('loss (det W > 0 samples)')
a1.set_ylabel('|w11|')
a1.legend(fontsize=6)
a2.set_xlabel('t')
a2.set_ylabel('nuclear norm of W (dotted: det W <= 0)')
a2.set_title('det W(0) > 0', fontsize=9)
fig.suptitle('002 Prop. 5: the norm diverges as the loss goes to 0 while det W > 0')
fig.tight_layout()
for ext in ('png', 'svg'):
    tmp = os.path.join(HERE, '.figure.tmp.' + ext)
    fig.savefig(tmp, dpi=110, format=ext)
    os.replace(tmp, os.path.join(HERE, 'figure.' + ext))
