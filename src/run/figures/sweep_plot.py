#!/usr/bin/env python3
# Written by `dln sweep` with "plot": true or --plot (template: src/run/figures/sweep_plot.py
# in dln's source). Reads ensemble.csv beside it (columns by header name: run, seed, stream,
# [data_seed,] the swept settings, then t and the observed columns) and draws, per swept
# setting, the median and the 10-90 % quantile band over the runs of each y column vs t;
# with at most 10 runs, one curve per run. A setting that ensemble.csv holds as a code
# (a method, a list) is shown by its value from ensemble.json's "legend". Saves
# figure.png and figure.svg (its text kept as text).
# Edit freely; rerun with: python3 plot.py [COLUMN ...]   (default: the columns in Y)
import csv, json, math, os, sys
try:
    import matplotlib
    matplotlib.use(os.environ.get('MPLBACKEND', 'Agg'))
    import matplotlib.pyplot as plt
    import numpy as np
except ImportError:
    sys.exit(3)  # dln reports: python3-matplotlib not found
plt.rcParams['svg.fonttype'] = 'none'  # labels stay text in figure.svg (editable, searchable)

HERE = os.path.dirname(os.path.abspath(__file__))
Y = sys.argv[1:] or ['loss']   # the y columns, one panel each
BAND = (0.1, 0.9)              # quantiles of the band
SMALL = 10                     # at most this many runs: one curve per run
STARTS = {'run', 'seed', 'stream', 'data_seed'}  # not a setting: which start


def num(s):
    try:
        return float(s)
    except ValueError:
        return math.nan  # an empty cell: the run has no such column


try:  # code k of a coded column is item k of its legend
    with open(os.path.join(HERE, 'ensemble.json')) as f:
        LEGEND = json.load(f).get('legend') or {}
except (OSError, ValueError):
    LEGEND = {}


def shown(name, cell):
    try:
        return str(LEGEND[name][int(float(cell))])
    except (KeyError, ValueError, IndexError, TypeError):
        return cell


with open(os.path.join(HERE, 'ensemble.csv'), newline='') as f:
    rows = csv.reader(f)
    names = next(rows)
    data = list(rows)
it = names.index('t')
setting_cols = [n for n in names[:it] if n not in STARTS]
runs = {}  # run -> (setting label, {column: list})
for r in data:
    label = ', '.join('%s=%s' % (n, shown(n, r[names.index(n)])) for n in setting_cols) or 'all runs'
    cols = runs.setdefault(r[names.index('run')], (label, {n: [] for n in names[it:]}))[1]
    for n, v in zip(names[it:], r[it:]):
        cols[n].append(num(v))
Y = [y for y in Y if y in names[it:]] or [names[it + 1]]
labels = list(dict.fromkeys(lab for lab, _ in runs.values()))
colors = plt.rcParams['axes.prop_cycle'].by_key()['color']

fig, axes = plt.subplots(1, len(Y), figsize=(5.2 * len(Y), 4), squeeze=False)
for ax, y in zip(axes[0], Y):
    for g, lab in enumerate(labels):
        col = colors[g % len(colors)]
        mine = [c for l, c in runs.values() if l == lab]
        if len(runs) <= SMALL:
            for i, c in enumerate(mine):
                ax.plot(c['t'], c[y], color=col, lw=1, label=lab if i == 0 else None)
            continue
        grid = np.asarray(max(mine, key=lambda c: len(c['t']))['t'])
        ys = np.array([np.interp(grid, c['t'], c[y], left=np.nan, right=np.nan) for c in mine])
        ok = np.isfinite(ys).any(axis=0)
        lo, med, hi = (np.nanquantile(ys[:, ok], q, axis=0) for q in (BAND[0], 0.5, BAND[1]))
        ax.fill_between(grid[ok], lo, hi, color=col, alpha=0.25, lw=0)
        ax.plot(grid[ok], med, color=col, lw=1.5, label='%s (%d runs)' % (lab, len(mine)))
    vals = np.array([v for _, c in runs.values() for v in c[y] if math.isfinite(v)])
    if vals.size and vals.min() > 0 and vals.max() > 100 * vals.min():
        ax.set_yscale('log')
    ax.set_xlabel('t')
    ax.set_ylabel(y)
    ax.set_title(y + ('' if len(runs) <= SMALL else ': median, %g-%g %% band' % (100 * BAND[0], 100 * BAND[1])))
    ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(os.path.join(HERE, 'figure.png'), dpi=120)
fig.savefig(os.path.join(HERE, 'figure.svg'))
