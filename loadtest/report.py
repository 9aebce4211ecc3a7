"""The harness's report: figures from the run's timeline and the workers' final counts, and a plot."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtest.coverage import coverage_summary, latency_ms

if TYPE_CHECKING:
    from loadtest.run import LoadConfig, Worker

SLOT_S = 0.020
HARNESS_FAULT_LAG_MS = 100.0


def server_counters(before: dict[str, float], after: dict[str, float], window_s: float) -> dict[str, object]:
    """What the server's own counters (`monitor.scrape`) say of the window: the fan-out's writers, the share of
    the wall time each spent in passes (`busy`, their mean: 1.0 is saturated), their CPU (cores, summed), their
    average pass (a message waits up to one), the ticks late and skipped, the frames of loss concealment the
    mixers played (all, and those inside a talk spurt, for a packet missing while its speaker talked on), the
    speakers' packets dropped by reason, the share of them the reader took at their space's tick, and how the
    server's reader thread was scheduled (docs/operations.md)."""

    def moved(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    busy, passes = moved("stoa_fanout_writer_busy_seconds_total"), moved("stoa_fanout_writer_passes_total")
    writers = after.get("stoa_fanout_writers", 1.0) or 1.0
    sends = moved("stoa_fanout_sends_total")
    accepted = moved("stoa_speaker_packets_accepted_total")
    return {
        "fanout_writer": {
            "writers": int(writers),
            "busy": round(busy / window_s / writers, 3),
            "cpu_cores": round(moved("stoa_fanout_writer_cpu_seconds_total") / window_s, 3),
            "pass_ms": round(busy / passes * 1000, 2) if passes else 0.0,
            "us_per_send": round(moved("stoa_fanout_writer_cpu_seconds_total") / sends * 1e6, 2) if sends else 0.0,
        },
        "ticks_late": int(moved("stoa_mixer_ticks_late_total")),
        "ticks_skipped": int(moved("stoa_mixer_ticks_skipped_total")),
        "concealed_frames": int(moved("stoa_concealed_frames_total")),
        "concealed_gap_frames": int(moved("stoa_concealed_gap_frames_total")),
        "speaker_packets_dropped": {
            name.removeprefix("dropped_"): int(moved(name)) for name in sorted(after) if name.startswith("dropped_")
        },
        # The speakers' packets the reader took at their space's tick (parked: docs/operations.md).
        "at_tick_share": round(moved("stoa_wire_audio_at_tick_total") / accepted, 3) if accepted else 0.0,
        "reader_scheduling": next(
            (name.removeprefix("reader_") for name, v in after.items() if name.startswith("reader_") and v == 1), None
        ),
    }


def summarise(
    config: LoadConfig,
    timeline: list[dict[str, Any]],
    marks: dict[str, Any],
    workers: list[Worker],
    checks: list[dict[str, object]],
    *,
    window: tuple[int, int],
    produced: dict[str, int],
    speakers: dict[str, object],
) -> dict[str, object]:
    listeners = [ls for w in workers if w.final for ls in w.final["listeners"]]
    finals = [w.final["final"] for w in workers if w.final]
    planned = dict.fromkeys(produced, config.listeners)
    coverage, shares = coverage_summary(planned, produced, listeners)
    coverage["window_slots"] = [window[0], window[1]]
    coverage["window_s"] = round((window[1] - window[0]) * SLOT_S, 2)
    ramp, end, before = marks["ramp_done"], marks["end"], marks.get("before_listeners")
    window_s = end["t"] - ramp["t"]
    frames_in_window = end["frames"] - ramp["frames"]
    joined = [ls for ls in listeners if ls["state"] in ("joined", "closed")]
    server: dict[str, object] = {}
    if end.get("server_cpu_s") is not None and window_s > 0:
        cpu = end["server_cpu_s"] - ramp["server_cpu_s"]
        server["cpu_cores"] = round(cpu / window_s, 3)
        server["us_per_listener_frame"] = round(cpu / frames_in_window * 1e6, 3) if frames_in_window else None
        server["rss_mib_end"] = round(end["server_rss"] / 2**20, 1)
        if before and joined:
            server["kib_per_listener"] = round((ramp["server_rss"] - before["rss_bytes"]) / len(joined) / 1024, 1)
    if ramp.get("metrics") and end.get("metrics") and window_s > 0:
        server.update(server_counters(ramp["metrics"], end["metrics"], window_s))
    buckets = [(upper, count) for w in workers if w.final for upper, count in w.final["latency_buckets"]]
    read_buckets = [(upper, count) for w in workers if w.final for upper, count in w.final["read_latency_buckets"]]
    # A burst of packets more than 100 ms late can overflow the server's 6-packet queue per speaker:
    # then the harness, not the server, would have lost audio.
    lag = speakers["send_lag_ms"]
    assert isinstance(lag, dict)
    speakers = dict(speakers, harness_fault=lag["max"] >= HARNESS_FAULT_LAG_MS)
    return {
        "config": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(config).items()
            if k not in ("server_args", "during_window", "metrics_url")
        },
        "coverage": coverage,
        "latency_ms": latency_ms(buckets),
        # The same frames as the harness's threads read them, on the machine they share with the server.
        "latency_at_read_ms": latency_ms(read_buckets),
        "speakers": speakers,
        "listeners": {
            "asked": config.listeners * config.spaces,
            "joined": len(joined),
            "failed": sum(1 for ls in listeners if ls["state"] == "failed"),
            "closed_by_server": sum(f["closed_by_server"] for f in finals),
            "failures": Counter(ls["error"] for ls in listeners if ls["state"] == "failed").most_common(5),
            "frames": sum(f["frames"] for f in finals),
            "lost": sum(f["lost"] for f in finals),
            "late": sum(f["late"] for f in finals),
            "off_clock": sum(f["off_clock"] for f in finals),
            # Frames whose latency was taken at the harness's read, for want of a kernel arrival stamp.
            "unstamped": sum(f["unstamped"] for f in finals),
            # Messages read together with a later one of their connection: stamped late, never early.
            "restamped": sum(f["restamped"] for f in finals),
        },
        "window_s": round(window_s, 2),
        "listener_frames_per_s": round(frames_in_window / window_s) if window_s > 0 else None,
        "server": server,
        "samples": checks,
        "timeline": timeline,
        "per_listener_columns": [
            "user",
            "space",
            "state",
            "coverage",
            "frames",
            "lost",
            "late",
            "max_latency_ms",
            "error",
            "first_slots_missed",
        ],  # fmt: skip
        "per_listener": [
            [
                ls["user"],
                ls["space"],
                ls["state"],
                round(share, 5),
                ls["frames"],
                ls["lost"],
                ls["late"],
                round(ls["max_latency_us"] / 1000, 1),
                ls["error"],
                ls["missed"],
            ]  # fmt: skip
            for ls, share in zip(listeners, shares, strict=True)
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
    lat.set_ylabel("latency (ms, worst pool, in the window)")
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
