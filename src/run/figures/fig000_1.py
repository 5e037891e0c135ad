#!/usr/bin/env python3
# Written by `dln figure 000-fig1` (template: src/run/figures/fig000_1.py in dln's source).
# The phase plane of 000 Fig. 1 (de Oliveira, Siami, Sontag): trajectories of the scalar
# gradient flow P' = (Ybar - PQ)Q, Q' = (Ybar - PQ)P, undisturbed (left) and under the
# disturbance of params.json (right), with the two branches of PQ = Ybar, the lines
# S^- (P = -Q, 000 Prop. 1) and S^+ (P = Q), and the borders |P + Q| = alpha of R_alpha
# (000 eq. 16) for two alpha. Reads the files beside it; saves figure.png and figure.svg.
# Edit freely; rerun with: python3 plot.py
import csv, json, os, sys
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


with open(os.path.join(HERE, 'params.json')) as f:
    par = json.load(f)
Y, H = par['Ybar'], par['grid_half_width']
L = 1.25 * H
runs = {}
for r in load('trajectories.csv'):
    runs.setdefault((int(r['disturbed']), int(r['run'])), []).append((r['P'], r['Q']))

fig, axes = plt.subplots(1, 2, figsize=(11, 5.4), sharey=True)
for d, ax in enumerate(axes):
    for (dd, _), pts in sorted(runs.items()):
        if dd != d:
            continue
        P, Q = [p for p, _ in pts], [q for _, q in pts]
        ax.plot(P, Q, color='tab:blue', lw=0.8, alpha=0.75)
        ax.plot(P[:1], Q[:1], 'o', color='tab:blue', ms=2.5)
        ax.plot(P[-1:], Q[-1:], 'x', color='tab:red', ms=4)
    xs = [Y / L + k * (L - Y / L) / 400 for k in range(401)]
    ax.plot(xs, [Y / x for x in xs], color='tab:green', lw=2, label=r'$PQ = \bar Y$')
    ax.plot([-x for x in xs], [-Y / x for x in xs], color='tab:green', lw=2)
    ax.plot([-L, L], [L, -L], color='k', lw=1.4, label=r'$S^-$: $P = -Q$')
    ax.plot([-L, L], [-L, L], color='gray', lw=1.0, ls=':', label=r'$S^+$: $P = Q$')
    for a, col in zip(par['alphas'], ['k', 'm']):
        for sgn in (1, -1):
            ax.plot([-L, L], [sgn * a + L, sgn * a - L], ls='--', color=col, lw=1,
                    label=r'$|P + Q| = \alpha = %g$' % a if sgn > 0 else None)
    ax.set_xlim(-L, L)
    ax.set_ylim(-L, L)
    ax.set_aspect('equal')
    ax.set_xlabel('P')
    ax.set_title('undisturbed' if d == 0 else
                 '%s disturbance, |U|+|V| = %.3g (Thm 2 bounds %s)' %
                 (par['disturbance'], par['disturbance_size'],
                  ', '.join('%.3g' % b for b in par['thm2_bounds'])), fontsize=9)
axes[0].set_ylabel('Q')
axes[0].legend(loc='lower right', fontsize=7)
fig.suptitle(r'000 Fig. 1: phase plane of the scalar case, $\bar Y = %g$' % Y)
fig.tight_layout()
for ext in ('png', 'svg'):
    tmp = os.path.join(HERE, '.figure.tmp.' + ext)
    fig.savefig(tmp, dpi=110, format=ext)
    os.replace(tmp, os.path.join(HERE, 'figure.' + ext))
