#!/usr/bin/env python3
# Written by `dln figure 001-fig2` (template: src/run/figures/fig001_2.py in dln's source).
# 001 Fig. 2 (Tarmoun et al.): reconstruction error (top) and singular values (bottom) of
# the general start (red dashed) vs the regularized flow with Lambda = lambda0 I (black),
# one column per width k. Reads gaps.csv and kK/{general,reg}/trajectory.csv beside it;
# saves figure.png and figure.svg. Edit freely; rerun with: python3 plot.py
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


gaps = load('gaps.csv')
ks = [int(k) for k in gaps['k']]
fig, ax = plt.subplots(2, len(ks), figsize=(4 * len(ks), 6.5), squeeze=False)
for j, k in enumerate(ks):
    for sub, st, lab in (('general', 'r--', 'general Q0'), ('reg', 'k-', 'Lambda = lambda0 I')):
        c = load('k%d/%s/trajectory.csv' % (k, sub))
        ax[0][j].semilogy(c['t'], c['recon_err'], st, label=lab)
        for n in sorted(x for x in c if x.startswith('sv_')):
            ax[1][j].plot(c['t'], c[n], st, lw=1)
    ax[0][j].set_title('k = %d, lambda0 = %.4g' % (k, gaps['lambda0'][j]), fontsize=9)
    ax[0][j].legend(fontsize=7)
    ax[1][j].set_xlabel('t')
ax[0][0].set_ylabel('reconstruction error')
ax[1][0].set_ylabel('singular values of X(t)')
fig.suptitle('001 Fig. 2: general init vs regularized flow (eq. 26) with fitted lambda0')
fig.tight_layout()
for ext in ('png', 'svg'):
    tmp = os.path.join(HERE, '.figure.tmp.' + ext)
    fig.savefig(tmp, dpi=110, format=ext)
    os.replace(tmp, os.path.join(HERE, 'figure.' + ext))
