"""The harness's report: figures from the run's timeline and the workers' final counts, and a plot."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadtest.run import LoadConfig, Worker

HEALTHY_DELIVERY = 0.999


def summarise(
    config: LoadConfig,
    timeline: list[dict[str, Any]],
    marks: dict[str, Any],
    workers: list[Worker],
    checks: list[dict[str, object]],
) -> dict[str, object]:
    listeners = [ls for w in workers if w.final for ls in w.final["listeners"]]
    finals = [w.final["final"] for w in workers if w.final]
    ratios = []
    for ls in listeners:
        if ls["frames"] > 0:
            expected = ls["last_seq"] - ls["first_seq"] + 1
            ratios.append(ls["frames"] / expected)
    healthy = [ls for ls in listeners if ls["state"] == "joined" and ls["frames"] > 0]
    ramp, end, before = marks.get("ramp_done") or timeline[0], marks["end"], marks.get("before_listeners")
    window_s = end["t"] - ramp["t"]
    frames_in_window = end["frames"] - ramp["frames"]
    server: dict[str, object] = {}
    if end.get("server_cpu_s") is not None and window_s > 0:
        cpu = end["server_cpu_s"] - ramp["server_cpu_s"]
        server["cpu_cores"] = round(cpu / window_s, 3)
        server["us_per_listener_frame"] = round(cpu / frames_in_window * 1e6, 3) if frames_in_window else None
        server["rss_mib_end"] = round(end["server_rss"] / 2**20, 1)
        if before and healthy:
            server["kib_per_listener"] = round((ramp["server_rss"] - before["rss_bytes"]) / len(healthy) / 1024, 1)
    latency = [max(col) for col in zip(*(f["latency_us"] for f in finals), strict=True)] if finals else [0, 0, 0, 0]
    return {
        "config": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items() if k not in ("server_args",)
        },
        "listeners": {
            "asked": config.listeners * config.spaces,
            "joined": sum(1 for ls in listeners if ls["state"] in ("joined", "closed")),
            "failed": sum(1 for ls in listeners if ls["state"] == "failed"),
            "closed_by_server": sum(f["closed_by_server"] for f in finals),
            "healthy": len(healthy),
            "below_99_9_percent": sum(1 for r in ratios if r < HEALTHY_DELIVERY),
            "min_delivery": round(min(ratios), 5) if ratios else None,
            "failures": Counter(ls["error"] for ls in listeners if ls["state"] == "failed").most_common(5),
            "frames": sum(f["frames"] for f in finals),
            "lost": sum(f["lost"] for f in finals),
            "late": sum(f["late"] for f in finals),
        },
        "latency_ms": dict(zip(("p50", "p95", "p99", "max"), (round(v / 1000, 1) for v in latency), strict=True)),
        "window_s": round(window_s, 2),
        "listener_frames_per_s": round(frames_in_window / window_s) if window_s > 0 else None,
        "server": server,
        "samples": checks,
        "timeline": timeline,
        # One row per listener: frames expected (from its first to its last seq), received, lost, late.
        "per_listener_columns": ["user", "state", "expected", "received", "lost", "late", "max_latency_ms"],
        "per_listener": [
            [
                ls["user"],
                ls["state"],
                ls["last_seq"] - ls["first_seq"] + 1 if ls["frames"] else 0,
                ls["frames"],
                ls["lost"],
                ls["late"],
                round(ls["max_latency_us"] / 1000, 1),
            ]
            for ls in listeners
        ],
    }


def write_plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tl = report["timeline"]
    t = [p["t"] for p in tl]
    fig, (lat, cpu, conn) = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    for i, name in enumerate(("p50", "p95", "p99")):
        lat.plot(t, [p["latency_us"][i] / 1000 for p in tl], label=name)
    lat.set_ylabel("latency (ms, since ramp end)")
    lat.legend()
    cpu_s = [p["server_cpu_s"] for p in tl]
    if all(c is not None for c in cpu_s) and len(tl) > 1:
        cores = [0.0] + [(b - a) / (tb - ta) for a, b, ta, tb in zip(cpu_s, cpu_s[1:], t, t[1:], strict=False)]
        cpu.plot(t, cores, color="tab:red")
    cpu.set_ylabel("server CPU (cores)")
    conn.plot(t, [p["joined"] for p in tl], label="listeners joined")
    frames = [p["frames"] for p in tl]
    rate = [0.0] + [(b - a) / (tb - ta) for a, b, ta, tb in zip(frames, frames[1:], t, t[1:], strict=False)]
    conn2 = conn.twinx()
    conn2.plot(t, rate, color="tab:green", label="listener-frames/s")
    conn.set_ylabel("listeners")
    conn2.set_ylabel("listener-frames/s")
    conn.set_xlabel("seconds")
    cfg = report["config"]
    fig.suptitle(
        f"stoa load: {cfg['listeners']} listeners × {cfg['spaces']} space(s), {cfg['speakers']} speakers, "
        f"{cfg['transport']} transport, {cfg['frames_per_message']} frame(s)/message"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
