#!/usr/bin/env python3
"""Plot the Lie model's invariance error against the number of group samples N (log-log), as an SVG.

Input: the CSV that `build/bin/lie_invariance --out FILE` writes (columns group,N,mean,std,draws).
Output: an SVG with one line per group, error bars of one standard error (std / sqrt(draws)), and a dashed
c / sqrt(N) reference through each group's first point. It also prints the least-squares slope of log(error)
against log(N) per group (-0.5 is the Monte Carlo rate). Standard library only.

    python3 tools/bench/plot_lie_invariance.py docs/lie_invariance.csv docs/lie_invariance.svg
"""
import csv
import math
import os
import sys
import tempfile

W, H = 640, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 150, 40, 60
COLORS = {"sl2": "#1f77b4", "gl2": "#d62728"}


def read(path):
    groups = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            n, mean, std, draws = int(row["N"]), float(row["mean"]), float(row["std"]), int(row["draws"])
            groups.setdefault(row["group"], []).append((n, mean, std / math.sqrt(draws)))
    if not groups:
        sys.exit(f"plot_lie_invariance: no rows in {path}")
    for rows in groups.values():
        rows.sort()
    return groups


def slope(rows):
    xs = [math.log(n) for n, _, _ in rows]
    ys = [math.log(m) for _, m, _ in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def svg(groups):
    ns = [n for rows in groups.values() for n, _, _ in rows]
    es = [m + s for rows in groups.values() for _, m, s in rows] + [max(m - s, 1e-3) for rows in groups.values()
                                                                    for _, m, s in rows]
    x0, x1 = math.log(min(ns)), math.log(max(ns))
    y0, y1 = math.floor(math.log10(min(es)) * 4) / 4, math.ceil(math.log10(max(es)) * 4) / 4
    px = lambda n: LEFT + (math.log(n) - x0) / (x1 - x0) * (W - LEFT - RIGHT)
    py = lambda e: TOP + (y1 - math.log10(e)) / (y1 - y0) * (H - TOP - BOTTOM)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" '
           f'font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2 - 60}" y="22" font-size="14">Invariance error vs samples N (log-log)</text>',
           f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="black"/>',
           f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="black"/>',
           f'<text x="{(LEFT + W - RIGHT) / 2 - 50}" y="{H - 20}">group samples N</text>',
           f'<text x="16" y="{(TOP + H - BOTTOM) / 2 + 60}" transform="rotate(-90 16 {(TOP + H - BOTTOM) / 2 + 60})">'
           f'relative error of the logits</text>']
    for n in sorted(set(ns)):
        out.append(f'<line x1="{px(n):.1f}" y1="{H - BOTTOM}" x2="{px(n):.1f}" y2="{H - BOTTOM + 5}" stroke="black"/>')
        out.append(f'<text x="{px(n) - 6:.1f}" y="{H - BOTTOM + 18}">{n}</text>')
    for k in range(int(y0 * 4), int(y1 * 4) + 1):
        e = 10 ** (k / 4)
        out.append(f'<line x1="{LEFT - 5}" y1="{py(e):.1f}" x2="{W - RIGHT}" y2="{py(e):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 45}" y="{py(e) + 4:.1f}">{e:.2g}</text>')
    for i, (group, rows) in enumerate(sorted(groups.items())):
        color = COLORS.get(group, "#333")
        pts = " ".join(f"{px(n):.1f},{py(m):.1f}" for n, m, _ in rows)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        for n, m, s in rows:
            out.append(f'<line x1="{px(n):.1f}" y1="{py(m + s):.1f}" x2="{px(n):.1f}" y2="{py(max(m - s, 1e-3)):.1f}" '
                       f'stroke="{color}"/>')
            out.append(f'<circle cx="{px(n):.1f}" cy="{py(m):.1f}" r="3" fill="{color}"/>')
        n_first, m_first, _ = rows[0]
        ref = " ".join(f"{px(n):.1f},{py(m_first * math.sqrt(n_first / n)):.1f}" for n, _, _ in rows)
        out.append(f'<polyline points="{ref}" fill="none" stroke="{color}" stroke-dasharray="4,4"/>')
        y = TOP + 20 + 40 * i
        out.append(f'<line x1="{W - RIGHT + 15}" y1="{y}" x2="{W - RIGHT + 40}" y2="{y}" stroke="{color}" '
                   f'stroke-width="2"/>')
        out.append(f'<text x="{W - RIGHT + 45}" y="{y + 4}">{group} (slope {slope(rows):.2f})</text>')
    y = TOP + 20 + 40 * len(groups)
    out.append(f'<line x1="{W - RIGHT + 15}" y1="{y}" x2="{W - RIGHT + 40}" y2="{y}" stroke="#333" '
               f'stroke-dasharray="4,4"/>')
    out.append(f'<text x="{W - RIGHT + 45}" y="{y + 4}">c / sqrt(N)</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot_lie_invariance.py IN.csv OUT.svg")
    groups = read(sys.argv[1])
    for group, rows in sorted(groups.items()):
        print(f"{group}: slope of log(error) against log(N) = {slope(rows):.3f}")
    text = svg(groups)
    out_dir = os.path.dirname(os.path.abspath(sys.argv[2]))
    with tempfile.NamedTemporaryFile("w", dir=out_dir, delete=False) as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, sys.argv[2])


if __name__ == "__main__":
    main()
