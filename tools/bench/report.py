#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the guest's BENCH lines of both kernels into bench.tsv, bench.md and
throw-cost.svg.

Usage: report.py STOCK_RESULTS OURS_RESULTS OUTDIR
"""
import sys
from pathlib import Path


def load(path):
    """{program: (insns per run, main image bytes, all image bytes)}"""
    rows = {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("SKIP "):
            continue
        name, insns, main, total, _ret, _ok = line.split()
        rows[name] = (int(insns), int(main), int(total))
    return rows


def prog(kind, link, d):
    return f"{kind}_{'static' if d == 0 else link}_{d}"


def target(d):
    return 150 + 15 * d


def chains():
    """(linkage, depth) of every chain; depth 0 has no linkage."""
    for link in ("static", "global"):
        for d in range(8):
            if d or link == "static":
                yield link, d


def cleanup_tables(ours):
    """Cleanup on throw (ours only): per resource, what a throw that
    releases n resources held by main costs above the same program that
    releases them on return, less what the throw itself costs at that depth
    (so the destructors cancel out); and nothrow − plain with them held."""
    if not any(name.startswith("hthrow_") for name in ours):
        return []
    md = ["", "## Cleanup on throw (ours): guest instructions per released resource", "",
          "A throw from depth d while main holds n resources of a kind, above the same",
          "program that releases them on return and above the throw's own cost at d:",
          "((hthrow − hret) − (throw − plain)) / n. Then nothrow − plain with them held:",
          "hnothrow − hret (a throw site that does not fire, beside no throw site).", "",
          "| kind | n | " + " | ".join(f"d={d}" for d in range(8)) +
          " | nothrow−plain d=0..7 |", "|---|---|" + "---|" * 9]
    kinds = sorted({name.split("_")[1] for name in ours if name.startswith("hthrow_")})
    for kind in kinds:
        for n in (1, 2, 4, 8):
            if f"hthrow_{kind}_{n}_0" not in ours:
                continue
            cells, nothrow = [], []
            for d in range(8):
                get = lambda v: ours[f"{v}_{kind}_{n}_{d}"][0]
                base = ours[prog("throw", "static", d)][0] - ours[prog("plain", "static", d)][0]
                cells.append(f"{((get('hthrow') - get('hret')) - base) / n:.0f}")
                nothrow.append(str(get("hnothrow") - get("hret")))
            md.append(f"| {kind} | {n} | " + " | ".join(cells) + f" | {', '.join(nothrow)} |")
    return md


def main():
    stock, ours = load(sys.argv[1]), load(sys.argv[2])
    out = Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    kernels = (("stock", stock), ("ours", ours))

    # Raw TSV: one row per kernel and program.
    tsv = ["kernel\tprogram\tinsns_per_run\tmain_image_bytes\tall_images_bytes"]
    for kname, rows in kernels:
        for name, (insns, main_len, total) in rows.items():
            tsv.append(f"{kname}\t{name}\t{insns}\t{main_len}\t{total}")
    (out / "bench.tsv").write_text("\n".join(tsv) + "\n")

    md = ["## Guest instructions per run (QEMU TCG, -icount shift=0)", "",
          "| linkage | d | stock throw | stock nothrow | stock plain | stock throw−plain "
          "| stock nothrow−plain | ours throw | ours nothrow | ours plain | ours throw−plain "
          "| ours nothrow−plain | target throw−plain |",
          "|---|---|" + "---|" * 11]
    for link, d in chains():
        cells = []
        for _, rows in kernels:
            t, n, p = (rows[prog(k, link, d)][0] for k in ("throw", "nothrow", "plain"))
            cells += [t, n, p, t - p, n - p]
        md.append(f"| {link if d else '–'} | {d} | " +
                  " | ".join(str(c) for c in cells) + f" | {target(d)} |")
    for label, name, base in (("custom callback, static d=2", "throw_cb_2", "plain_static_2"),
                              ("throw after a tail call, d=0", "tailcall_0", "plain_static_0")):
        cells = []
        for _, rows in kernels:
            cells += [rows[name][0], "", "", rows[name][0] - rows[base][0], ""]
        md.append(f"| {label} | | " + " | ".join(str(c) for c in cells) + " | |")

    md += ["", "## JIT image bytes of the main function (all functions)", "",
           "| linkage | d | stock throw | stock nothrow | stock plain | ours throw "
           "| ours nothrow | ours plain |", "|---|---|---|---|---|---|---|---|"]
    for link, d in chains():
        cells = []
        for _, rows in kernels:
            for k in ("throw", "nothrow", "plain"):
                _, main_len, total = rows[prog(k, link, d)]
                cells.append(f"{main_len} ({total})")
        md.append(f"| {link if d else '–'} | {d} | " + " | ".join(cells) + " |")
    md += cleanup_tables(ours)
    (out / "bench.md").write_text("\n".join(md) + "\n")

    # Plot: throw − plain against depth.
    W, H, L, B, T, R = 640, 400, 60, 50, 20, 150
    ymax = max(rows[prog("throw", link, d)][0] - rows[prog("plain", link, d)][0]
               for _, rows in kernels for link in ("static", "global") for d in range(8))
    ymax = (ymax // 500 + 1) * 500

    def xy(d, v):
        x = L + d * (W - L - R) / 7
        y = H - B - v * (H - B - T) / ymax
        return f"{x:.1f},{y:.1f}"

    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="14">bpf_throw cost: guest instructions above a plain return</text>']
    for v in range(0, ymax + 1, 500):
        svg.append(f'<line x1="{L}" x2="{W - R}" y1="{xy(0, v).split(",")[1]}" '
                   f'y2="{xy(0, v).split(",")[1]}" stroke="#ddd"/>')
        svg.append(f'<text x="{L - 8}" y="{xy(0, v).split(",")[1]}" text-anchor="end">{v}</text>')
    for d in range(8):
        x = xy(d, 0).split(",")[0]
        svg.append(f'<text x="{x}" y="{H - B + 18}" text-anchor="middle">{d}</text>')
    svg.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">'
               'subprogram depth d</text>')
    series = []
    for kname, rows in kernels:
        for link, dash in (("static", ""), ("global", ' stroke-dasharray="5,3"')):
            pts = [(d, rows[prog("throw", link, d)][0] - rows[prog("plain", link, d)][0])
                   for d in range(8)]
            color = "#c0392b" if kname == "stock" else "#2471a3"
            series.append((f"{kname} {link}", pts, color, dash))
    series.append(("target 150+15d", [(d, target(d)) for d in range(8)], "#27ae60",
                   ' stroke-dasharray="2,2"'))
    for i, (label, pts, color, dash) in enumerate(series):
        svg.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{dash} '
                   f'points="{" ".join(xy(d, v) for d, v in pts)}"/>')
        y = T + 20 + 18 * i
        svg.append(f'<line x1="{W - R + 10}" x2="{W - R + 35}" y1="{y}" y2="{y}" '
                   f'stroke="{color}" stroke-width="2"{dash}/>')
        svg.append(f'<text x="{W - R + 40}" y="{y + 4}">{label}</text>')
    svg.append("</svg>")
    (out / "throw-cost.svg").write_text("\n".join(svg) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
