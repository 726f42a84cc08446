"""Compare every summary.json under two folders (same relative paths): the largest absolute
difference of any metric, per run."""
import json, sys
from pathlib import Path
a, b = Path(sys.argv[1]), Path(sys.argv[2])
def flat(d, p=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict): out.update(flat(v, f"{p}{k}."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and "second" not in k and "time" not in k: out[p + k] = float(v)
    return out
worst_all = 0.0
for sa in sorted(a.rglob("summary.json")):
    rel = sa.relative_to(a); sb = b / rel
    if not sb.exists(): print("missing in second:", rel); continue
    fa, fb = flat(json.loads(sa.read_text())), flat(json.loads(sb.read_text()))
    diffs = {k: abs(fa[k] - fb[k]) for k in fa if k in fb}
    k = max(diffs, key=diffs.get) if diffs else None
    worst_all = max(worst_all, diffs.get(k, 0.0) if k else 0.0)
    print(f"{str(rel.parent):70s} {len(diffs):3d} numbers, largest difference {diffs.get(k, 0):.2e} ({k})")
print(f"largest difference over all runs: {worst_all:.2e}")
