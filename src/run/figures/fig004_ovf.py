#!/usr/bin/env python3
# Written by `dln figure 004-ovf` (template: src/run/figures/fig004_ovf.py in dln's source).
# 004 Conjecture 1 (overfitting conjecture): fraction of gradient-flow runs reaching a
# global minimum per depth, from random starts (left) and from starts on each saddle
# stratum plus small noise (right), with Wilson 95% intervals. Reads ovf.csv beside it;
# saves figure.png and figure.svg. Edit freely; rerun with: python3 plot.py
import csv, os, sys
try:
    import matplotlib
    matplotlib.use(os.environ.get('MPLBACKEND', 'Agg'))
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(3)  # dln reports: python3-matplotlib not found

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, 'ovf.csv'), newline='') as f:
    rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def name(mask):
    s = ','.join(str(i + 1) for i in range(8) if int(mask) >> i & 1)
    return '{%s}' % s


fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={'width_ratios': [1, 2.2]})
rnd = [r for r in rows if r['adversarial'] == 0]
a1.errorbar([r['depth'] for r in rnd], [r['frac_global'] for r in rnd],
            yerr=[[r['frac_global'] - r['wilson_lo'] for r in rnd], [r['wilson_hi'] - r['frac_global'] for r in rnd]],
            fmt='o', capsize=4)
a1.set_xticks([1, 2, 3, 4])
a1.set_xlabel('depth N')
a1.set_ylabel('fraction reaching a global minimum')
a1.set_ylim(-0.05, 1.05)
a1.set_title('random starts (n = %d per depth)' % int(rnd[0]['runs']), fontsize=9)
adv = [r for r in rows if r['adversarial'] == 1]
masks = sorted({r['stratum_mask'] for r in adv}, key=lambda m: (bin(int(m)).count('1'), m))
for j, d in enumerate(sorted({r['depth'] for r in adv})):
    rs = {r['stratum_mask']: r for r in adv if r['depth'] == d}
    xs = [i + (j - 1) * 0.2 for i in range(len(masks))]
    fr = [rs[m]['frac_global'] for m in masks]
    a2.errorbar(xs, fr, yerr=[[f - rs[m]['wilson_lo'] for f, m in zip(fr, masks)],
                              [rs[m]['wilson_hi'] - f for f, m in zip(fr, masks)]],
                fmt='o', capsize=3, label='depth %d' % int(d))
a2.set_xticks(range(len(masks)))
a2.set_xticklabels([name(m) for m in masks])
a2.set_xlabel('start stratum L (learned components)')
a2.set_ylim(-0.05, 1.05)
a2.set_title('on a saddle stratum + noise 1e-3, class at t_end (n = %d each)' % int(adv[0]['runs']), fontsize=9)
a2.legend(fontsize=7)
fig.suptitle('004 Conjecture 1: end points of gradient flow, Wilson 95% intervals')
fig.tight_layout()
for ext in ('png', 'svg'):
    tmp = os.path.join(HERE, '.figure.tmp.' + ext)
    fig.savefig(tmp, dpi=110, format=ext)
    os.replace(tmp, os.path.join(HERE, 'figure.' + ext))
