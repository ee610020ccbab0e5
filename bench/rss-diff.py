#!/usr/bin/env python3
"""Where one process's RSS differs from another's running the same binary (root).

    bench/rss-diff.py BINARY PID_WITH PID_WITHOUT

Prints, for both processes, the RSS by kind of mapping (/proc/<pid>/smaps: the binary's pages,
anonymous regions such as glibc arenas and thread stacks, [heap], shared libraries) and then the
pages of BINARY resident only in PID_WITH (/proc/<pid>/pagemap), attributed to crates by the
symbols on each page (nm -C, readelf; the binary must keep its symbols). Used for docs/probes.md
"Memory": the agent with --probes against the same agent without it.
"""
import bisect
import collections
import os
import re
import struct
import subprocess
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")
# Generic code is named after the crate of its type parameters when one of these appears in it.
NAMED = ["k8s_openapi", "hickory", "rustls", "ring::", "hyper", "prometheus", "axum",
         "kube_runtime", "kube_client", "serde_json", "kubemedic_probe", "tokio"]


def smaps(pid):
    kinds = collections.Counter()
    cur = None
    for line in open(f"/proc/{pid}/smaps"):
        m = re.match(r"^[0-9a-f]+-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$", line)
        if m:
            name, perms = m.group(3).strip(), m.group(2)
            if name.startswith("["):
                cur = name
            elif not name:
                cur = "anonymous (arenas, thread stacks)"
            else:
                cur = os.path.basename(name) + (" (rw)" if "w" in perms else "")
        elif line.startswith("Rss:"):
            kinds[cur] += int(line.split()[1])
    status = open(f"/proc/{pid}/status").read()
    field = lambda k: re.search(rf"{k}:\s+(\d+)", status).group(1)
    threads = len(os.listdir(f"/proc/{pid}/task"))
    print(f"pid {pid}: VmRSS {field('VmRSS')} kB (anonymous {field('RssAnon')}, "
          f"file {field('RssFile')}), {threads} threads")
    for k, v in kinds.most_common(8):
        print(f"  {v:8d} kB  {k}")


def resident(binary, pid):
    real = os.path.realpath(binary)
    pages = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pm:
        for line in maps:
            parts = line.split()
            if len(parts) < 6 or os.path.realpath(parts[5]) != real:
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            offset = int(parts[2], 16)
            pm.seek(lo // PAGE * 8)
            data = pm.read((hi - lo) // PAGE * 8)
            for i in range((hi - lo) // PAGE):
                (entry,) = struct.unpack_from("<Q", data, i * 8)
                if entry >> 63 & 1:
                    pages.add(offset + i * PAGE)
    return pages


def sections(binary):
    out = []
    text = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True).stdout
    for line in text.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if m and int(m.group(2), 16):
            out.append((m.group(1), int(m.group(2), 16), int(m.group(3), 16), int(m.group(4), 16)))
    return out


def crate(symbol):
    for k in NAMED:
        if k in symbol:
            return k.rstrip(":")
    name = re.sub(r"^(dyn |impl |mut )", "", symbol.lstrip("<&*( "))
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", name)
    return m.group(1) if m else "(other)"


def main():
    binary, with_pid, without_pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    smaps(with_pid)
    smaps(without_pid)
    secs = sections(binary)

    def file_offset(vaddr):
        for name, addr, off, size in secs:
            if addr <= vaddr < addr + size:
                return off + (vaddr - addr), name
        return None, None

    symbols = []
    nm = subprocess.run(["nm", "-C", "--defined-only", "-S", binary], capture_output=True, text=True)
    for line in nm.stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4:
            continue
        try:
            addr, size = int(parts[0], 16), int(parts[1], 16)
        except ValueError:
            continue
        off, _ = file_offset(addr)
        if off is not None:
            symbols.append((off, size, parts[3]))
    symbols.sort()
    starts = [s[0] for s in symbols]
    a, b = resident(binary, with_pid), resident(binary, without_pid)
    only = a - b
    print(f"pages of {os.path.basename(binary)} resident: {len(a) * PAGE // 1024} kB with, "
          f"{len(b) * PAGE // 1024} kB without; only with: {len(only) * PAGE // 1024} kB, "
          f"only without: {len(b - a) * PAGE // 1024} kB")
    by_crate = collections.Counter()
    by_section = collections.Counter()
    for page in only:
        owners = collections.Counter()
        i = bisect.bisect_right(starts, page + PAGE) - 1
        while i >= 0 and symbols[i][0] + max(symbols[i][1], 1) > page:
            off, size, name = symbols[i]
            if off < page + PAGE:
                owners[crate(name)] += min(off + size, page + PAGE) - max(off, page)
            i -= 1
        by_crate[owners.most_common(1)[0][0] if owners else "(no symbol)"] += 1
        for name, _, off, size in secs:
            if off <= page < off + size:
                by_section[name] += 1
                break
    print("  by section: " + ", ".join(f"{k} {v * PAGE // 1024} kB" for k, v in by_section.most_common()))
    for k, v in by_crate.most_common(16):
        print(f"  {v * PAGE // 1024:6d} kB  {k}")


if __name__ == "__main__":
    main()
