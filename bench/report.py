#!/usr/bin/python3
"""Turns the benchmark's JSON lines into bench/RESULTS.md and SVG charts.

Python standard library only. Three sub-commands, all used by bench/run.sh:

    report.py machine                      one JSON line describing this machine
    report.py wrap KEY=VALUE ... < JSON    one JSON object (deltac's, or a peer's line)
                                           wrapped as {"KEY": VALUE, ..., "result": {...}}
                                           on one line; invalid input gives
                                           {"...", "error": "..."}
    report.py report RESULTS.jsonl OUTDIR  writes OUTDIR/RESULTS.md, OUTDIR/results.svg
                                           and OUTDIR/gradcost.svg

A record of results.jsonl is {"workload": "W1", "net": "4-16-16-1", "spec": ...,
"source": "deltac" | "fann" | "torch" | "gradcost", "result": {...}} or
{"machine": {...}} or {"run": {...}} (settings and total time).
"""
import datetime
import html
import json
import math
import os
import platform
import subprocess
import sys

# ---------------------------------------------------------------------------- machine


def _cmd(args):
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
        return (p.stdout + p.stderr).strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gcc = _cmd(["gcc", "--version"]).splitlines()
    tcc = _cmd(["tcc", "-v"]).splitlines()
    fann = _cmd(["dpkg-query", "-W", "-f", "${Version}", "libfann-dev"])
    libtcc = _cmd(["dpkg-query", "-W", "-f", "${Version}", "libtcc-dev"])
    # the BLAS behind libblas.so.3 (Debian's alternatives), which PyTorch uses
    blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    if "openblas" in blas:
        blas = "OpenBLAS (%s)" % blas
    elif os.path.exists(blas):
        blas = "reference BLAS, not optimised (%s): install libopenblas0-pthread" % blas
    else:
        blas = ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "gcc": gcc[0] if gcc else "",
        "tcc": tcc[0] if tcc else "",
        "libtcc": libtcc,
        "fann": fann if fann and "no packages" not in fann else "",
        "python": platform.python_version(),
        "blas": blas,
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "load_before": os.getloadavg()[0],
    }


def wrap(pairs, text):
    rec = {}
    for p in pairs:
        k, _, v = p.partition("=")
        try:
            rec[k] = json.loads(v)
        except ValueError:
            rec[k] = v
    text = text.strip()
    try:
        # deltac prints one object (maybe over several lines)
        results = [json.loads(text)]
    except ValueError:
        # a peer prints one object per line (torch_bench: one per thread count)
        try:
            results = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
        except ValueError:
            results = []
    if not results:
        rec["error"] = " ".join(text.split())[-300:] or "no output"
        return json.dumps(rec)
    return "\n".join(json.dumps(dict(rec, result=r)) for r in results)


# ---------------------------------------------------------------------------- report

ENGINE_ORDER = ["tcc", "tcc-exact", "cc-exact", "cc", "reference", "fann", "pytorch-1t", "pytorch-2t"]
ENGINE_LABEL = {
    "tcc": "deltac tcc (libtcc JIT, fast activations)",
    "tcc-exact": "deltac tcc-exact (libtcc JIT, libm)",
    "cc-exact": "deltac cc-exact (gcc -O2)",
    "cc": "deltac cc (gcc -O3, fast)",
    "reference": "deltac reference (loops)",
    "fann": "FANN 2.2",
    "pytorch-1t": "PyTorch, 1 thread",
    "pytorch-2t": "PyTorch, 2 threads",
}
ENGINE_COLOR = {
    "tcc": "#1f77b4",
    "tcc-exact": "#aec7e8",
    "cc-exact": "#9467bd",
    "cc": "#17becf",
    "reference": "#7f7f7f",
    "fann": "#2ca02c",
    "pytorch-1t": "#d62728",
    "pytorch-2t": "#ff9896",
}
DELTAC = ("tcc", "tcc-exact", "cc-exact", "cc", "reference")


def fmt(x, digits=3):
    """A number with about `digits` significant digits and thousands separators."""
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    if isinstance(x, int) or (abs(x) >= 100 and float(x).is_integer()):
        return "{:,}".format(int(x))
    mag = math.floor(math.log10(abs(x)))
    if mag >= digits - 1:
        return "{:,.0f}".format(x)
    return "{:,.{}f}".format(x, max(0, digits - 1 - mag))


def fmt_time(ns):
    """An axis label for a time in ns: 1 ns, 10 ns, ..., 1 µs, ..., 1 ms, ..., 1 s."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3), ("ns", 1.0)):
        if ns >= scale * 0.9999:
            return "%g %s" % (float("%.3g" % (ns / scale)), unit)
    return "%g ns" % float("%.3g" % ns)


def fmt_count(n):
    """An axis label for a count: 10, 100, 1k, 10k, 100k, 1M."""
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if n >= scale * 0.9999:
            return "%g%s" % (float("%.3g" % (n / scale)), unit)
    return "%g" % n


def fmt_diff(x):
    if x is None:
        return "-"
    if x == 0:
        return "0"
    return "%.1e" % x


def load(path):
    recs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    pass
    return recs


def group_rows(recs):
    """{(workload, net): {"meta": record, "engines": {engine: dict}, "errors": [...]}}"""
    groups = {}
    order = []
    for r in recs:
        if "workload" not in r or r.get("source") in ("gradcost", "compile"):
            continue
        key = (r["workload"], r.get("net", "?"), r.get("batch"))
        if key not in groups:
            groups[key] = {"meta": r, "engines": {}, "errors": [], "deltac": None}
            order.append(key)
        g = groups[key]
        if "error" in r:
            g["errors"].append("%s: %s" % (r.get("source", "?"), r["error"]))
            continue
        res = r["result"]
        if r.get("source") == "deltac":
            g["deltac"] = res
            for e in res.get("engines", []):
                g["engines"][e["engine"]] = dict(e)
        else:
            g["engines"][res.get("engine", r.get("source"))] = dict(res)
    return [(k, groups[k]) for k in order]


def per_sample(e, batch):
    """ns per sample from ns per step (None when absent)."""
    v = e.get("ns_per_step_min")
    m = e.get("ns_per_step_median")
    return (v / batch if v is not None else None, m / batch if m is not None else None)


def best_deltac(g):
    best = None
    for name in DELTAC:
        e = g["engines"].get(name)
        if e and e.get("ns_per_step_min"):
            if best is None or e["ns_per_step_min"] < best[1]:
                best = (name, e["ns_per_step_min"])
    return best


def engine_note(name, e, workload):
    notes = []
    if name == "fann":
        if e.get("exact") is False:
            notes.append("timing only: " + e.get("note", ""))
        if e.get("tanh_clips"):
            notes.append("%d of %d hidden tanh values beyond ±0.98 (FANN clips them in the "
                         "derivative)" % (e["tanh_clips"], e.get("tanh_values", 0)))
    if name in DELTAC and e.get("compile_ms") and name != "reference":
        notes.append("compile %s ms%s, %s KB source, %s KB code" % (
            fmt(e["compile_ms"]), " (cache hit)" if e.get("cache_hit") else "",
            fmt((e.get("source_bytes") or 0) / 1024.0), fmt((e.get("code_bytes") or 0) / 1024.0)))
    return "; ".join(n for n in notes if n)


def table(g, workload):
    """Markdown rows for one (workload, net)."""
    meta = g["deltac"] or {}
    batch = meta.get("batch") or g["meta"].get("batch") or 1
    samples = meta.get("samples") or g["meta"].get("samples")
    best = best_deltac(g)
    out = []
    if workload == "W1":
        out.append("| engine | ns per step (min) | median | × deltac's best | max abs diff vs reference | notes |")
    elif workload == "W2":
        out.append("| engine | ns per sample per epoch (min) | median | × deltac's best | max abs diff vs reference | notes |")
    else:
        out.append("| engine | samples/s (from min) | from median | × deltac's best (time) | max abs diff vs reference | notes |")
    out.append("| --- | ---: | ---: | ---: | ---: | --- |")
    names = [n for n in ENGINE_ORDER if n in g["engines"]] + \
        [n for n in g["engines"] if n not in ENGINE_ORDER]
    for name in names:
        e = g["engines"][name]
        tmin, tmed = e.get("ns_per_step_min"), e.get("ns_per_step_median")
        ratio = tmin / best[1] if (best and tmin) else None
        if workload == "W1":
            a, b = fmt(tmin), fmt(tmed)
        elif workload == "W2":
            a, b = fmt(tmin / batch if tmin else None), fmt(tmed / batch if tmed else None)
        else:
            a = fmt(batch * 1e9 / tmin) if tmin else "-"
            b = fmt(batch * 1e9 / tmed) if tmed else "-"
        diff = e.get("max_abs_diff")
        if name == "reference":
            dtxt = "(itself)"
        else:
            dtxt = fmt_diff(diff)
        label = ENGINE_LABEL.get(name, name)
        if best and name == best[0]:
            label = "**" + label + "**"
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            label, a, b, fmt(ratio) if ratio else "-", dtxt, engine_note(name, e, workload)))
    for err in g["errors"]:
        out.append("| (failed) | | | | | %s |" % err.replace("|", "/").replace("\n", " ")[:300])
    head = "steps %s, batch %s, %s rows, %s parameters, repeats: deltac %s" % (
        meta.get("steps", g["meta"].get("steps")), batch, samples,
        fmt(meta.get("n_params")) if meta.get("n_params") else "?",
        meta.get("repeat", g["meta"].get("repeat")))
    for name in ("fann", "pytorch-1t"):
        if name in g["engines"] and g["engines"][name].get("repeat"):
            head += ", %s %s" % ("FANN" if name == "fann" else "PyTorch",
                                 g["engines"][name]["repeat"])
    return head, out


def svg_bars(groups, path):
    """Grouped bars, log scale: ns per sample for every (workload, net), one bar per engine."""
    data = []
    for (wl, net, _), g in groups:
        meta = g["deltac"] or {}
        batch = meta.get("batch") or g["meta"].get("batch") or 1
        bars = []
        for name in ENGINE_ORDER:
            e = g["engines"].get(name)
            if e and e.get("ns_per_step_min"):
                bars.append((name, e["ns_per_step_min"] / batch))
        if bars:
            label2 = "batch %d" % batch if wl != "W1" else "batch 1"
            data.append(("%s %s" % (wl, net), label2, bars))
    if not data:
        return False
    vals = [v for _, _, bars in data for _, v in bars]
    lo = 10 ** math.floor(math.log10(min(vals)))
    hi = 10 ** math.ceil(math.log10(max(vals)))
    if hi / lo < 100:
        hi = lo * 100
    barw, gap = 13, 26
    left, top, plot_h = 80, 60, 360
    width_groups = sum(len(b) * barw + gap for _, _, b in data)
    W = left + width_groups + 190
    H = top + plot_h + 110

    def y(v):
        return top + plot_h - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * plot_h

    s = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">' % (W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="22" font-size="15" font-weight="bold">Time per training sample (log scale, lower is better; minimum over repeats)</text>' % left,
         '<text x="%d" y="40" fill="#444">W1: per-sample SGD step; W2: full-batch Adam, per sample per epoch; W3: minibatch SGD step / batch</text>' % left]
    dec = lo
    while dec <= hi * 1.0001:
        yy = y(dec)
        s.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (left, left + width_groups, yy, yy))
        s.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 6, yy + 4, fmt_time(dec)))
        dec *= 10
    s.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="black"/>' % (left, left, top, top + plot_h))
    s.append('<text transform="translate(18,%d) rotate(-90)" text-anchor="middle">time per sample</text>' % (top + plot_h / 2))
    x = left + gap / 2
    for name, label2, bars in data:
        x0 = x
        for eng, v in bars:
            yy = y(v)
            s.append('<rect x="%.1f" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s %s: %s ns</title></rect>' % (
                x, yy, barw - 2, top + plot_h - yy, ENGINE_COLOR[eng], html.escape(name), ENGINE_LABEL[eng], fmt(v)))
            x += barw
        cx = (x0 + x) / 2
        s.append('<text x="%.1f" y="%d" text-anchor="end" transform="rotate(-35 %.1f %d)">%s</text>' % (
            cx, top + plot_h + 16, cx, top + plot_h + 16, html.escape(name)))
        s.append('<text x="%.1f" y="%d" text-anchor="end" fill="#666" transform="rotate(-35 %.1f %d)">%s</text>' % (
            cx + 10, top + plot_h + 30, cx + 10, top + plot_h + 30, label2))
        x += gap
    lx = left + width_groups + 20
    for i, eng in enumerate(ENGINE_ORDER):
        s.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (lx, top + 10 + 20 * i, ENGINE_COLOR[eng]))
        s.append('<text x="%d" y="%d">%s</text>' % (lx + 18, top + 20 + 20 * i, ENGINE_LABEL[eng]))
    s.append('</svg>')
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")
    return True


def svg_gradcost(rows, path):
    """Log-log: forward, backprop and finite-difference time against N, with N and N^2 guides."""
    pts = [r for r in rows if r.get("n_params") and r.get("forward_ns") and r.get("backprop_ns")]
    if len(pts) < 2:
        return False
    xs = [r["n_params"] for r in pts]
    ys = [r[k] for r in pts for k in ("forward_ns", "backprop_ns", "fd_ns") if r.get(k)]
    xlo, xhi = 10 ** math.floor(math.log10(min(xs))), 10 ** math.ceil(math.log10(max(xs)))
    ylo, yhi = 10 ** math.floor(math.log10(min(ys))), 10 ** math.ceil(math.log10(max(ys)))
    left, top, pw, ph = 80, 50, 560, 400
    W, H = left + pw + 280, top + ph + 60

    def X(v):
        return left + (math.log10(v) - math.log10(xlo)) / (math.log10(xhi) - math.log10(xlo)) * pw

    def Y(v):
        return top + ph - (math.log10(v) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo)) * ph

    s = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">' % (W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="22" font-size="15" font-weight="bold">Cost of one gradient against parameters N (log-log)</text>' % left]
    v = xlo
    while v <= xhi * 1.0001:
        s.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/>' % (X(v), X(v), top, top + ph))
        s.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (X(v), top + ph + 16, fmt_count(v)))
        v *= 10
    v = ylo
    while v <= yhi * 1.0001:
        s.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (left, left + pw, Y(v), Y(v)))
        s.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 6, Y(v) + 4, fmt_time(v)))
        v *= 10
    s.append('<text x="%d" y="%d" text-anchor="middle">parameters N</text>' % (left + pw / 2, top + ph + 40))
    s.append('<text transform="translate(18,%d) rotate(-90)" text-anchor="middle">time per gradient (one sample)</text>' % (top + ph / 2))
    series = [("forward_ns", "forward pass", "#7f7f7f"), ("backprop_ns", "backprop: forward + backward", "#1f77b4"),
              ("fd_ns", "central finite differences", "#d62728")]
    for k, label, color in series:
        p = [(r["n_params"], r[k]) for r in pts if r.get(k)]
        if not p:
            continue
        s.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (
            color, " ".join("%.1f,%.1f" % (X(a), Y(b)) for a, b in p)))
        for a, b in p:
            s.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>N=%s: %s ns</title></circle>' % (
                X(a), Y(b), color, fmt(a), fmt(b)))
    # guides through the largest net's point (the asymptote; small nets carry
    # a fixed overhead): slope 1 under backprop, slope 2 under FD
    for k, slope, label in (("backprop_ns", 1, "slope 1 (∝ N)"), ("fd_ns", 2, "slope 2 (∝ N²)")):
        p = [(r["n_params"], r[k]) for r in pts if r.get(k)]
        if not p:
            continue
        a1, b1 = p[-1]
        a0 = min(xs)
        b0 = b1 * (a0 / a1) ** slope
        if b0 < ylo:  # clip the line at the bottom of the plot
            a0, b0 = a1 * (ylo / b1) ** (1.0 / slope), ylo
        s.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black" stroke-dasharray="4 4" stroke-width="1"/>' % (
            X(a0), Y(b0), X(a1), Y(b1)))
        s.append('<text x="%.1f" y="%.1f">%s</text>' % (X(a1) + 6, Y(b1) + 4, label))
    lx = left + pw + 40
    for i, (k, label, color) in enumerate(series):
        s.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (lx, top + 10 + 20 * i, color))
        s.append('<text x="%d" y="%d">%s</text>' % (lx + 18, top + 20 + 20 * i, label))
    s.append('<text x="%d" y="%d" fill="#444">dashed: slopes 1 and 2 through</text>' % (lx, top + 90))
    s.append('<text x="%d" y="%d" fill="#444">the largest net</text>' % (lx, top + 104))
    s.append('</svg>')
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")
    return True


TITLES = {
    "W1": ("W1: per-sample SGD (batch 1), tanh hidden layers, identity output, mse",
           "Time per optimizer step = per sample. FANN: incremental training (`fann_train` per row), "
           "`FANN_SIGMOID_SYMMETRIC` (steepness 1 = tanh) and `FANN_LINEAR`, `FANN_ERRORFUNC_LINEAR`, "
           "momentum 0. PyTorch: `nn.Linear` + `Tanh`, loss ½ Σ (y − t)² per sample, `optim.SGD`."),
    "W2": ("W2: SimpleChains.jl's shape, 4-32-16-4 tanh/identity, mse, 10,000 samples, full-batch Adam (lr 1e-3)",
           "One step = one epoch over all 10,000 rows; times are per sample per epoch. FANN has no Adam: its row is "
           "`FANN_TRAIN_BATCH` (batch gradient descent with the same rate; its default RPROP is not used), "
           "timing only, no parameter difference."),
    "W3": ("W3: minibatch SGD, ReLU hidden layers, softmax + cross-entropy",
           "Samples per second (batch × steps per second). FANN 2.2 has no ReLU, no softmax and no "
           "cross-entropy: its row is the nearest it has (`FANN_LINEAR_PIECE` hidden units, `FANN_SIGMOID` "
           "outputs, squared error, `FANN_TRAIN_BATCH` on each minibatch's rows = minibatch gradient descent), "
           "timing only, no parameter difference."),
}


def report(results, outdir):
    recs = load(results)
    mach = next((r["machine"] for r in recs if "machine" in r), {})
    run = next((r["run"] for r in recs if "run" in r), {})
    groups = group_rows(recs)
    grad = [r for r in recs if r.get("source") == "gradcost"]
    md = ["# deltac against its peers", "",
          "Generated by `bench/run.sh%s` from `bench/results.jsonl` (raw records); do not edit by hand. "
          "What is measured and how fair it is: [README.md](README.md)." % (" --quick" if run.get("quick") else ""), "",
          "## Machine", "",
          "| | |", "| --- | --- |"]
    for k, label in (("cpu", "CPU"), ("cores", "cores"), ("kernel", "Linux"), ("gcc", "gcc"), ("tcc", "tcc"),
                     ("libtcc", "libtcc-dev"), ("fann", "FANN (libfann-dev)"), ("torch", "PyTorch"),
                     ("blas", "BLAS behind libblas.so.3 (PyTorch's)"), ("python", "Python"), ("date", "date"), ("load_before", "load average before the run")):
        if k == "load_before" and run.get("load_after") is not None:
            md.append("| load average (1 min) before, after the run | %.2f, %.2f |" % (mach[k], run["load_after"]))
            continue
        if mach.get(k) not in (None, ""):
            md.append("| %s | %s |" % (label, mach[k]))
    if not mach.get("torch"):
        mach["torch"] = next((r["result"].get("torch") for r in recs
                              if r.get("source") == "torch" and "result" in r), "")
        if mach["torch"]:
            md.append("| PyTorch | %s |" % mach["torch"])
    deltac_any = next((g["deltac"] for _, g in groups if g["deltac"]), None)
    if deltac_any:
        for k, label in (("cpu", "deltac's CPU string"),):
            if deltac_any.get(k):
                md.append("| %s | %s |" % (label, deltac_any[k]))
    if run.get("deltac_rev"):
        md.append("| deltac built from | %s |" % run["deltac_rev"])
    if deltac_any and deltac_any.get("cc_flags"):
        md.append("| deltac's cc engine flags | `%s` (cc-exact: `-O2 -march=native -std=c99 -ffp-contract=off -fno-math-errno`) |" % deltac_any["cc_flags"])
    if run.get("seconds"):
        md.append("| whole run | %s s |" % fmt(run["seconds"]))
    md += ["", "Times are the minimum and the median over the repeats (after one warm-up repeat, every repeat "
           "from the same initial parameters). The machine is shared and noisy: compare the engines within a "
           "table (measured one after another in the same minute), not across runs. \"× deltac's best\" is "
           "the engine's minimum time over the fastest deltac engine's (above 1: slower than deltac). "
           "\"max abs diff\" is the largest difference of any parameter after the run from deltac's reference "
           "engine's (float32).", ""]
    md.append("![time per sample](results.svg)")
    md.append("")
    md += summary(groups)
    comp = compile_times(recs)
    md += targets(groups, os.path.join(os.path.dirname(os.path.abspath(__file__)), "GAPS.md"), comp)
    md += compile_section(comp)
    for wl in ("W1", "W2", "W3"):
        gs = [(k, g) for k, g in groups if k[0] == wl]
        if not gs:
            continue
        title, expl = TITLES[wl]
        md += ["## " + title, "", expl, ""]
        for (w, net, _), g in gs:
            head, rows = table(g, wl)
            md += ["### %s" % net + (" (batch %s)" % (g["deltac"] or g["meta"]).get("batch") if wl == "W3" else ""),
                   "", head, ""] + rows + [""]
    if grad:
        md += ["## W4: the cost of a gradient, backprop against finite differences", "",
               "`deltac bench SPEC --gradcost` for a series of tanh/identity networks: one sample's forward pass, "
               "its forward + backward (backprop) gradient, and a central finite-difference gradient (2 forward "
               "passes per parameter; for large N measured on a subset of the parameters and scaled), timed on "
               "the tcc engine. Each time is the minimum over %s run(s) of the command, each itself the minimum of "
               "5 rounds of at least 10 ms. FD / forward should be close to 2N; backprop / forward a small "
               "constant." % (max([sum(1 for r in grad if r.get("net") == n) for n in set(r.get("net") for r in grad)] or [1])), "",
               "| network | N | forward ns | backprop ns | backprop / forward | FD ns | FD / forward | FD params measured |",
               "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        rows = []
        # several runs of one net: the minimum of each time (the least disturbed)
        merged, failed, runs = {}, [], {}
        for r in grad:
            if "error" in r:
                failed.append(r)
                continue
            x = r["result"]
            net = r.get("net")
            runs[net] = runs.get(net, 0) + 1
            if net not in merged:
                merged[net] = dict(x)
            else:
                for k in ("forward_ns", "backprop_ns", "fd_ns"):
                    if x.get(k) and x[k] < merged[net].get(k, float("inf")):
                        merged[net][k] = x[k]
        for x in merged.values():
            if x.get("forward_ns"):
                x["backprop_over_forward"] = x["backprop_ns"] / x["forward_ns"]
                x["fd_over_forward"] = x["fd_ns"] / x["forward_ns"]
        for r in failed:
            md.append("| %s | (failed: %s) | | | | | | |" % (r.get("net"), r["error"][:200].replace("|", "/")))
        for x in sorted(merged.values(), key=lambda x: x.get("n_params") or 0):
            rows.append(x)
            md.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                x.get("network", r.get("net")), fmt(x.get("n_params")), fmt(x.get("forward_ns")),
                fmt(x.get("backprop_ns")), fmt(x.get("backprop_over_forward", x.get("ratio"))),
                fmt(x.get("fd_ns")), fmt(x.get("fd_over_forward")), fmt(x.get("fd_params_measured"))))
        rows.sort(key=lambda x: x.get("n_params") or 0)
        if svg_gradcost(rows, os.path.join(outdir, "gradcost.svg")):
            fit = slopes(rows)
            md += ["", "![gradient cost](gradcost.svg)", ""]
            if fit:
                md.append("Least-squares slopes of log time against log N: " + ", ".join(
                    "%s %.2f" % (k, v) for k, v in fit) + " (1 = linear in N, 2 = quadratic).")
        md.append("")
    svg_bars(groups, os.path.join(outdir, "results.svg"))
    with open(os.path.join(outdir, "RESULTS.md"), "w") as f:
        f.write("\n".join(md).rstrip() + "\n")


def summary(groups):
    """One row per (workload, net): deltac's fastest engine and each peer's time relative to it."""
    out = ["## Summary", "",
           "Per workload, deltac's fastest engine and the time of the others relative to it (min over "
           "repeats; above 1: slower than deltac's best), with the peers' largest parameter difference "
           "from deltac's reference engine (- where the peer cannot run the same computation).", "",
           "| workload | net | batch | deltac's best | its time per sample | tcc | reference | FANN | PyTorch 1t | PyTorch 2t | FANN diff | PyTorch diff |",
           "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (wl, net, _), g in groups:
        best = best_deltac(g)
        if not best:
            continue
        meta = g["deltac"] or {}
        batch = meta.get("batch") or g["meta"].get("batch") or 1

        def rel(name):
            e = g["engines"].get(name)
            return fmt(e["ns_per_step_min"] / best[1]) if e and e.get("ns_per_step_min") else "-"

        def diff(name):
            e = g["engines"].get(name)
            return fmt_diff(e.get("max_abs_diff")) if e else "-"
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            wl, net, batch, best[0], fmt_time(best[1] / batch), rel("tcc"), rel("reference"), rel("fann"),
            rel("pytorch-1t"), rel("pytorch-2t"), diff("fann"), diff("pytorch-1t")))
    out.append("")
    return out


def compile_times(recs):
    """The C workload: {"tcc_full": [(compile_ms, emit_ms, source_bytes)], "cc": {spec: {pass: ms}}}."""
    out = {"tcc_full": [], "cc": {}}
    for r in recs:
        if r.get("source") != "compile" or "result" not in r:
            continue
        e = (r["result"].get("engines") or [{}])[0]
        net = r.get("net", "")
        if net.endswith(" tcc full"):
            out["tcc_full"].append((e.get("compile_ms"), e.get("emit_ms"), e.get("source_bytes")))
        elif " cc " in net:
            spec, _, pas = net.rpartition(" cc ")
            out["cc"].setdefault(spec, {})[pas] = (e.get("compile_ms"), e.get("cache_hit"), e.get("source_bytes"))
    return out


def compile_section(comp):
    if not comp["tcc_full"] and not comp["cc"]:
        return []
    out = ["## Compile times", "",
           "`deltac bench SPEC --steps 1 --json`: emission and compilation of the network's code "
           "(`compile_ms`), emission alone (`emit_ms`).", ""]
    if comp["tcc_full"]:
        out += ["libtcc, 784-128-10 fully unrolled (`--engines tcc --unroll full`), each run:", "",
                "| run | source | emission | compilation | both |", "| ---: | ---: | ---: | ---: | ---: |"]
        for i, (c, e, sb) in enumerate(comp["tcc_full"]):
            out.append("| %d | %s KB | %s ms | %s ms | %s ms |" % (i + 1, fmt((sb or 0) / 1024.0), fmt(e),
                                                             fmt(c - e if c is not None and e is not None else None),
                                                             fmt(c)))
        out.append("")
    if comp["cc"]:
        out += ["`--jit cc --unroll auto` (fast mode), every shipped spec, from an empty cache and then from it:", "",
                "| spec | source | compile (empty cache) | load (cache) |", "| --- | ---: | ---: | ---: |"]
        for spec in sorted(comp["cc"]):
            p = comp["cc"][spec]
            e, c = p.get("empty"), p.get("cached")
            out.append("| %s | %s KB | %s ms | %s |" % (
                spec, fmt(((e or c or (0, 0, 0))[2] or 0) / 1024.0), fmt(e[0]) if e else "-",
                ("%s ms%s" % (fmt(c[0]), "" if c[1] else " (not a cache hit!)")) if c else "-"))
        out.append("")
    return out


def targets(groups, gaps_path, comp=None):
    """Issue 7's speed targets, checked against this run, then bench/GAPS.md
    (hand-written: why a target is missed and what would close it)."""
    def find(wl, net, batch=None):
        for (w, n, b), g in groups:
            if w == wl and n == net and (batch is None or b == batch):
                return g
        return None

    def ratio(g, slow, fast):
        if not g:
            return None
        a, b = g["engines"].get(slow), g["engines"].get(fast)
        if not a or not b or not a.get("ns_per_step_min") or not b.get("ns_per_step_min"):
            return None
        return a["ns_per_step_min"] / b["ns_per_step_min"]

    rows = []
    small = ("2-8-1", "4-16-16-1", "16-32-32-4", "64-64-64-10")
    for net in small + ("784-128-10",):
        g = find("W1", net)
        want = 5.0 if net in small else 2.0
        rows.append(("W1 %s: cc >= %gx FANN" % (net, want), ratio(g, "fann", "cc"), want))
    for net in small + ("784-128-10",):
        rows.append(("W1 %s: tcc >= 1x FANN" % net, ratio(find("W1", net), "fann", "tcc"), 1.0))
    for net in small + ("784-128-10",):
        g = find("W1", net)
        for eng in ("tcc", "tcc-exact", "cc-exact", "cc"):
            rows.append(("W1 %s: %s >= 300x PyTorch (1 thread)" % (net, eng), ratio(g, "pytorch-1t", eng), 300.0))
    rows.append(("W2 4-32-16-4: cc >= 6x PyTorch (1 thread)", ratio(find("W2", "4-32-16-4"), "pytorch-1t", "cc"), 6.0))
    rows.append(("W3 784-128-10 batch 32: cc >= 1.5x PyTorch (1 thread)",
                 ratio(find("W3", "784-128-10", 32), "pytorch-1t", "cc"), 1.5))
    rows.append(("W3 784-128-10 batch 128: cc >= 1.0x PyTorch (1 thread)",
                 ratio(find("W3", "784-128-10", 128), "pytorch-1t", "cc"), 1.0))
    crows = []
    if comp and comp["tcc_full"]:
        best = min((c - e) for c, e, _ in comp["tcc_full"] if c is not None and e is not None)
        both = min(c for c, _, _ in comp["tcc_full"] if c is not None)
        crows.append("| libtcc compiles the fully unrolled 784-128-10 in <= 0.3 s | %s s (with emission %s s) | %s |"
                     % (fmt(best / 1e3), fmt(both / 1e3), "yes" if best <= 300 else "no"))
    if comp and comp["cc"]:
        fresh = [p["empty"][0] for p in comp["cc"].values() if p.get("empty") and p["empty"][0] is not None]
        hits = [p["cached"][0] for p in comp["cc"].values() if p.get("cached") and p["cached"][1]]
        misses = [s for s, p in comp["cc"].items() if p.get("cached") and not p["cached"][1]]
        if fresh:
            crows.append("| cc --unroll auto: every shipped spec (%d) compiles in <= 5 s | at most %s s | %s |"
                         % (len(fresh), fmt(max(fresh) / 1e3), "yes" if max(fresh) <= 5000 else "no"))
        if hits or misses:
            crows.append("| cc --unroll auto: every shipped spec loads from the cache in <= 10 ms | at most %s ms%s | %s |"
                         % (fmt(max(hits)) if hits else "-", "; no cache hit for " + ", ".join(misses) if misses else "",
                            "yes" if hits and not misses and max(hits) <= 10 else "no"))
    out = ["## Targets (issue 7), checked against this run", "",
           "Speed: the measured ratio of the times (the peer's over deltac's engine). Compile times: "
           "seconds, from the section \"Compile times\" below.", "",
           "| target | measured | met |", "| --- | ---: | --- |"]
    for name, got, want in rows:
        if got is None:
            out.append("| %s | - | (not measured) |" % name)
        else:
            out.append("| %s | %sx | %s |" % (name, fmt(got), "yes" if got >= want else "no"))
    for r in crows:
        out.append(r)
    out.append("")
    if os.path.exists(gaps_path):
        with open(gaps_path) as f:
            out += [f.read().rstrip("\n"), ""]
    return out


def slopes(rows):
    out = []
    for k, label in (("forward_ns", "forward"), ("backprop_ns", "backprop"), ("fd_ns", "FD")):
        p = [(math.log(r["n_params"]), math.log(r[k])) for r in rows if r.get(k) and r.get("n_params")]
        if len(p) < 2:
            continue
        mx = sum(a for a, _ in p) / len(p)
        my = sum(b for _, b in p) / len(p)
        sxx = sum((a - mx) ** 2 for a, _ in p)
        if sxx > 0:
            out.append((label, sum((a - mx) * (b - my) for a, b in p) / sxx))
    return out


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "machine":
        print(json.dumps({"machine": machine()}))
    elif len(sys.argv) >= 2 and sys.argv[1] == "wrap":
        print(wrap(sys.argv[2:], sys.stdin.read()))
    elif len(sys.argv) == 4 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
