"""Goodput timelines of the netns lab's TCP sinks (netpeer.py sink PORT
TIMELINE), for bench/handover and scripts/demo: reading them, the stalls in
a time window, and an SVG picture (stdlib only).

A timeline is "ms bytes" per 10 ms bin from the stream's first byte; its
.start file holds that byte's wall-clock time in Unix ms, so timelines of
several streams and the moments of injected events share one time axis."""
import os

BIN_MS = 10


def load(path):
    """(start_unix_ms or None, [bytes per 10 ms bin])."""
    bins = []
    if os.path.exists(path):
        for line in open(path):
            ms, n = map(int, line.split())
            bins.append(n)
    start = None
    if os.path.exists(path + ".start"):
        start = int(open(path + ".start").read().strip())
    return start, bins


def stalls(start_ms, bins, windows, stream_end_ms=None):
    """Longest run of empty bins that begins in each window [a, b) (Unix ms).
    A run still open when the stream's bins end counts up to stream_end_ms
    (the stream never resumed): its value is then a lower bound, flagged."""
    out = [(0, False) for _ in windows]
    if start_ms is None:
        return [(None, True) for _ in windows]
    i = 0
    runs = []
    while i < len(bins):
        if bins[i]:
            i += 1
            continue
        j = i
        while j < len(bins) and not bins[j]:
            j += 1
        runs.append((start_ms + i * BIN_MS, (j - i) * BIN_MS, False))
        i = j
    last = start_ms + len(bins) * BIN_MS
    if stream_end_ms is not None and stream_end_ms > last:
        runs.append((last, stream_end_ms - last, True))
    for at, length, open_ended in runs:
        for k, (a, b) in enumerate(windows):
            if a <= at < b and (length, open_ended) > out[k]:
                out[k] = (length, open_ended)
    return out


def svg(path, title, panels, events=(), t0_ms=0, bucket_ms=100, ymax=None):
    """panels: [(panel title, [(label, colour, dashed, start_ms, bins)])];
    events: [(unix_ms, label)] drawn as vertical lines on every panel.
    Goodput in Mbit/s per bucket_ms, seconds from t0_ms on the x axis; with
    ymax, the axis ends there and higher values (catch-up bursts) are clipped."""
    W, PH, L, R, T, B = 860, 190, 55, 170, 28, 24
    H = T + len(panels) * (PH + B) + 6
    per = bucket_ms // BIN_MS
    curves = []
    for _, series in panels:
        for label, colour, dashed, start, bins in series:
            pts = []
            for k in range(0, len(bins), per):
                x = ((start or t0_ms) - t0_ms + k * BIN_MS) / 1000.0
                pts.append((x, sum(bins[k:k + per]) * 8 / 1e6 * (1000.0 / bucket_ms)))
            curves.append(pts)
    xmax = max([p[0] for c in curves for p in c] + [e[0] / 1000.0 - t0_ms / 1000.0 for e in events] + [1])
    ymax = ymax or max([p[1] for c in curves for p in c] + [1]) * 1.1
    sx = lambda x: L + x / xmax * (W - L - R)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="16" font-size="13">%s</text>' % (L, title)]
    c = 0
    for p, (ptitle, series) in enumerate(panels):
        top = T + p * (PH + B)
        sy = lambda y, top=top: top + PH - min(y, ymax) / ymax * PH
        out.append('<text x="%d" y="%d" font-weight="bold">%s</text>' % (W - R + 8, top + 12, ptitle))
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, top + PH, W - R, top + PH))
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, top, L, top + PH))
        out.append('<text x="%d" y="%d" text-anchor="end">%.0f</text>' % (L - 4, top + 10, ymax))
        out.append('<text x="%d" y="%d" text-anchor="end">Mbit/s</text>' % (L - 4, top + 24))
        out.append('<text x="%d" y="%d">0</text>' % (L - 12, top + PH))
        for s in range(0, int(xmax) + 1, 2):
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%d s</text>' % (sx(s), top + PH + 13, s))
        for at, label in events:
            x = sx((at - t0_ms) / 1000.0)
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#888" stroke-dasharray="3,3"/>' % (x, top, x, top + PH))
            if p == 0:
                out.append('<text x="%.1f" y="%d" fill="#555" transform="rotate(-90 %.1f %d)" text-anchor="end">%s</text>'
                           % (x - 3, top + 4, x - 3, top + 4, label))
        for i, (label, colour, dashed, start, bins) in enumerate(series):
            pts = " ".join("%.1f,%.1f" % (sx(x), sy(y)) for x, y in curves[c])
            c += 1
            out.append('<polyline fill="none" stroke="%s" stroke-width="1.4"%s points="%s"/>'
                       % (colour, ' stroke-dasharray="5,3"' if dashed else "", pts))
            out.append('<text x="%d" y="%d" fill="%s">%s</text>' % (W - R + 8, top + 30 + 14 * i, colour,
                                                                     label + (" (dashed)" if dashed else "")))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
