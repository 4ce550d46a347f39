"""Rewrite the results table in bench/README.md from a run (between the two markers)."""

from bench.common import ROOT

TARGETS = [
    ("routing.bulk_points_per_s", "Bulk in-process routing, 100k points, 6 kinds (points/s)", ">=", 300_000),
    ("routing.postgis_p50_ms", "PostGIS single-point routing p50, 1 kind (ms)", "<=", 0.5),
    ("routing.agreement", "Agreement PostGIS vs bulk (0–1)", ">=", 1.0),
    ("e2e.terminals", "Terminals connected (over 2 Daphne processes)", ">=", 500),
    ("e2e.p50_ms", "Report → ticket.issued at terminal, p50 (ms)", "<=", 20),
    ("e2e.p90_ms", "… p90 (ms)", None, None),
    ("e2e.p99_ms", "… p99 (ms)", "<=", 100),
    ("e2e.lost", "Tickets lost", "<=", 0),
    ("e2e.duplicated", "Tickets duplicated (after de-dup by seq)", "<=", 0),
    ("e2e.capacity_per_s", "Capacity: highest rate with p99 ≤ 250 ms and no errors (incidents/s)", None, None),
    ("bare.p50_ms", "Bare minimum p50 (ms)", None, None),
    ("e2e.ratio_to_bare_p50", "Our p50 / bare p50", "<=", 3),
    ("replay.events", "Replay: events missed while away", ">=", 1000),
    ("replay.seconds", "Replay: seconds to receive them after reconnect", "<=", 1),
    ("memory.idle_connections", "Idle authenticated connections on one Daphne", ">=", 2000),
    ("memory.rss_mb", "RSS of that Daphne process (MB)", "<=", 250),
]


def verdict(value, op, target):
    if op is None or value is None:
        return ""
    ok = value >= target if op == ">=" else value <= target
    return "met" if ok else "**missed**"


def table(result, summary):
    m = result["machine"]
    first = result["e2e"]["steps"][0]
    lines = [
        f"Run `{result['name']}` ({m['at']}): {m['cores']} cores ({m['cpu']}), {m['memory_mb']} MB, "
        f"Python {m['python']}, PostgreSQL {result['servers'].get('postgresql')}, PostGIS {result['servers'].get('postgis')}, "
        f"Redis {result['servers'].get('redis')}; load average at start {m['loadavg']}, at the end {m['loadavg_end']}. "
        f"Whole command: {result['seconds']} s. At {first['rate_per_s']} incidents/s: {first['tickets']} tickets "
        f"to {result['e2e']['terminals']} terminals + {result['e2e']['dispatcher_streams']} dispatcher streams.",
        "",
        "| figure | value | target | |",
        "|---|---|---|---|",
    ]
    for key, label, op, target in TARGETS:
        value = summary.get(key)
        shown = f"{value:,}" if isinstance(value, int) else (f"{value:.4g}" if isinstance(value, float) else str(value))
        lines.append(f"| {label} `{key}` | {shown} | {f'{op} {target:,}' if op else ''} | {verdict(value, op, target)} |")
    lines += ["", "Rate steps (report → `ticket.issued` at the terminal; round trip = until `ticket.confirmed` "
              "reaches the confirming dispatcher's stream):", "",
              "| rate/s | tickets | p50 | p90 | p99 | max | round trip p50 | p99 | REST p50 | lost | dup | errors | load after |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in result["e2e"]["steps"]:
        i, rt, rest = s["issued"], s["roundtrip_confirmed"] or {}, s["rest_report"]
        lines.append(f"| {s['rate_per_s']} | {s['tickets']} | {i['p50_ms']} | {i['p90_ms']} | {i['p99_ms']} | {i['max_ms']} | "
                     f"{rt.get('p50_ms')} | {rt.get('p99_ms')} | {rest['p50_ms']} | {s['lost']} | {s['duplicated']} | "
                     f"{s['errors']} | {s['loadavg_after']} |")
    b = result["bare"]
    lines += ["", f"Bare minimum at {b['rate_per_s']}/s, {b['terminals']} sockets: p50 {b['issued']['p50_ms']} ms, "
              f"p90 {b['issued']['p90_ms']}, p99 {b['issued']['p99_ms']}, max {b['issued']['max_ms']}; lost {b['lost']}."]
    return "\n".join(lines)


def write_section(name, body, heading=None):
    """Replace what stands between the <!-- name:start --> and <!-- name:end --> markers of bench/README.md
    with body; a section not there yet is added at the end (under heading, when given)."""
    path = ROOT / "bench" / "README.md"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start not in text:
        text += (f"\n## {heading}\n" if heading else "") + f"\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{body}\n{end}{tail}")


def update_readme(result, summary):
    write_section("results", table(result, summary))




def faults_table(result):
    """Return the faults table of a run: per fault, its recovery and what it cost."""
    f, m = result["faults"], result["machine"]
    lines = [
        f"Run `{result['name']}` ({m['at']}), load average at start {m['loadavg']}: {f['rate_per_s']} incidents/s for "
        f"{f['duration_s']} s per fault, {f['terminals']} terminals. Totals: lost {f['lost']}, duplicated "
        f"{f['duplicated']}, false escalations {f['false_escalations']} (targets 0, 0, 0).",
        "",
        "| fault | recovery (s) `faults.<fault>.recovery_s` | target | failed report attempts | slowest attempt (s) | "
        "reports | tickets | lost | dup | false escalations |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in f["faults"].items():
        lines.append(f"| {name} | {r['recovery_s']} | <= 5 {verdict(r['recovery_s'], '<=', 5)} | {r['failed_reports']} | "
                     f"{r['slowest_attempt_s']} | {r['reports']} | {r['tickets']} | {r['lost']} | {r['duplicated']} | "
                     f"{r['false_escalations']} |")
    return "\n".join(lines)


def update_faults_table(result):
    """Rewrite the faults table between its markers in bench/README.md."""
    write_section("faults", faults_table(result), heading="Faults")
