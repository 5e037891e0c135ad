#!/usr/bin/env python3
# Written by `dln figure 003-fig1` (template: src/run/figures/fig003_1.py in dln's source).
# 003 Fig. 1 (Min et al.): distance of the trained network to the min-norm solution vs
# the hidden width h (mean and standard deviation over the runs of each h), the initial
# distance out of span X, Theorem 2's bound eq. 20 and its deterministic core B(t_f),
# and the least-squares slope. Reads runs.csv and fit.csv beside it; saves figure.png
# and figure.svg. Edit freely; rerun with: python3 plot.py
import csv, math, os, sys
try:
    import matplotlib
    matplotlib.use(os.environ.get('MPLBACKEND', 'Agg'))
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(3)  # dln reports: python3-matplotlib not found

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    with open(os.path.join(HERE, name), newline='') as f:
        rows = csv.reader(f)
        names = next(rows)
        return [dict(zip(names, map(float, r))) for r in rows]


def stats(rows, key):
    hs = sorted({r['h'] for r in rows})
    out = []
    for h in hs:
        v = [r[key] for r in rows if r['h'] == h]
        m = sum(v) / len(v)
        sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
        out.append((h, m, sd))
    return out


runs = load('runs.csv')
fit = load('fit.csv')[0]
fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
for key, lab, fmt in (('dist', '||W(t_f) - Theta_hat||_F', 'o-'), ('out_span', '||U_2 V^T(t_f)|| (out of span X)', 's--'),
                      ('out_span0', '||U_2 V^T(0)||', '^:')):
    s = stats(runs, key)
    a1.errorbar([x[0] for x in s], [x[1] for x in s], yerr=[x[2] for x in s], fmt=fmt, capsize=3, label=lab)
hs = sorted({r['h'] for r in runs})
a1.loglog(hs, [math.exp(fit['intercept']) * h ** fit['slope'] for h in hs], 'k-', lw=0.8,
          label='fit: slope %.3f [%.3f, %.3f]' % (fit['slope'], fit['ci_lo'], fit['ci_hi']))
a1.set_xscale('log')
a1.set_yscale('log')
a1.set_xlabel('width h')
a1.set_ylabel('distance')
a1.legend(fontsize=7)
a1.set_title('distance to the min-norm solution', fontsize=9)
for key, lab, fmt in (('dist', 'measured', 'o-'), ('B_tf', 'B(t_f): Thm 2 core (eq. 16 + eq. 10)', 'v--'),
                      ('eq20', 'Thm 2 eq. 20, delta = 0.05', 'x--')):
    s = stats(runs, key)
    a2.errorbar([x[0] for x in s], [x[1] for x in s], yerr=[x[2] for x in s], fmt=fmt, capsize=3, label=lab)
a2.set_xscale('log')
a2.set_yscale('log')
a2.set_xlabel('width h')
a2.legend(fontsize=7)
a2.set_title('the distance and Theorem 2\'s bounds', fontsize=9)
fig.suptitle('003 Fig. 1: gradient descent from N(0, 1/h), 5 runs per width')
fig.tight_layout()
for ext in ('png', 'svg'):
    tmp = os.path.join(HERE, '.figure.tmp.' + ext)
    fig.savefig(tmp, dpi=110, format=ext)
    os.replace(tmp, os.path.join(HERE, 'figure.' + ext))
