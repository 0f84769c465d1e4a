#!/usr/bin/env python3
"""Checks Tangent's layer arrows: every #include "..." in the layers' folders against the layer map.

    python3 tools/ci/check_layers.py [--root DIR] [--map FILE]   # exit 0: clean; 1: violations; 2: bad map/usage
    python3 tools/ci/check_layers.py --self-test                  # the check on small trees with known answers

The map (tools/ci/layers.txt) names each layer, its folder and the layers it may include. Each violation is
printed as file:line, the include, and the rule it breaks. Includes are resolved as the build resolves them: from
the source root, else next to the including file; a header the build generates must be listed in the map.
"""
import argparse
import io
import os
import re
import sys
import tempfile

SOURCE_EXTENSIONS = (".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


class MapError(Exception):
    pass


class Map:
    def __init__(self, path):
        self.path = path
        self.layers = {}  # name -> folder
        self.uses = {}  # name -> set of layer names
        self.order = []  # layer names in map order (lowest first)
        self.kernels = set()
        self.public = set()
        self.generated = {}  # header name -> layer
        self.allow = {}  # (file, include) -> map line number
        with open(path, encoding="utf-8") as f:
            for number, raw in enumerate(f, 1):
                words = raw.split("#", 1)[0].split()
                if not words:
                    continue
                self._parse(words, number)
        for name, used in self.uses.items():
            for u in used:
                if u not in self.layers:
                    raise MapError(f"{path}: layer {name} uses unknown layer {u}")
        for k in self.kernels | set(self.generated.values()):
            if k not in self.layers:
                raise MapError(f"{path}: unknown layer {k}")

    def _parse(self, words, number):
        kind = words[0]
        where = f"{self.path}:{number}"
        if kind == "layer":
            if len(words) < 3 or not words[2].endswith("/") or (len(words) > 3 and words[3] != "uses"):
                raise MapError(f"{where}: expected 'layer NAME FOLDER/ [uses LAYER...]'")
            name = words[1]
            if name in self.layers:
                raise MapError(f"{where}: layer {name} defined twice")
            self.layers[name] = words[2]
            self.uses[name] = set(words[4:])
            self.order.append(name)
        elif kind == "kernels" and len(words) >= 2:
            self.kernels.update(words[1:])
        elif kind == "public" and len(words) == 2:
            self.public.add(words[1])
        elif kind == "generated" and len(words) == 3:
            self.generated[words[1]] = words[2]
        elif kind == "allow" and len(words) == 3:
            self.allow[(words[1], words[2])] = number
        else:
            raise MapError(f"{where}: cannot parse '{' '.join(words)}'")

    def layer_of(self, path):
        """The layer owning a path relative to the root (longest folder prefix), or None."""
        best = None
        for name, folder in self.layers.items():
            if path.startswith(folder) and (best is None or len(folder) > len(self.layers[best])):
                best = name
        return best


def rule_broken(m, src, dst):
    """The rule an include from layer src into layer dst breaks."""
    allowed = ", ".join(sorted(m.uses[src] | {src}))
    if dst == "tools":
        why = "nothing below tools includes tools"
    elif src in m.kernels and dst in m.kernels:
        why = "no kernel layer includes another"
    elif dst in m.kernels:
        why = "kernels are reached through the Backend (core/backend.h), not by their headers"
    else:
        why = f"{src} sits below {dst} (core <- kernels <- ops <-> autograd <- nn <- models <- tools)"
    return f"{why}; {src} may include {allowed}"


def resolve(root, including, target):
    """The include's path relative to root, or None when it is not a file of the tree."""
    for candidate in (target, os.path.join(os.path.dirname(including), target)):
        norm = os.path.normpath(candidate)
        if not norm.startswith("..") and os.path.isfile(os.path.join(root, norm)):
            return norm.replace(os.sep, "/")
    return None


def check(root, m):
    """Returns (violations, notes): lines to print. Violations make the check fail."""
    violations = []
    used_allow = set()
    files = []
    for name in m.order:
        top = os.path.join(root, m.layers[name])
        if not os.path.isdir(top):
            violations.append(f"{m.path}: layer {name}: folder {m.layers[name]} does not exist under {root}")
            continue
        for directory, _, names in os.walk(top):
            for n in names:
                if n.endswith(SOURCE_EXTENSIONS):
                    rel = os.path.relpath(os.path.join(directory, n), root).replace(os.sep, "/")
                    if m.layer_of(rel) == name:  # a nested layer's files are checked under that layer
                        files.append((rel, name))
    for rel, src in sorted(files):
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                target = match.group(1)
                where = f"{rel}:{number}: #include \"{target}\""
                resolved = resolve(root, rel, target)
                if resolved is None:
                    if target in m.generated:
                        dst = m.generated[target]
                    else:
                        violations.append(f"{where}: not a file of the source tree (a generated header must be "
                                          f"listed in {m.path})")
                        continue
                else:
                    dst = m.layer_of(resolved)
                    if dst is None:
                        violations.append(f"{where}: {resolved} belongs to no layer of {m.path}")
                        continue
                if dst == src or dst in m.uses[src]:
                    continue
                if resolved in m.public and src not in m.kernels and src != "core":
                    continue
                if (rel, target) in m.allow:
                    used_allow.add((rel, target))
                    continue
                violations.append(f"{where} (layer {dst}): {rule_broken(m, src, dst)}")
    for key, number in sorted(m.allow.items(), key=lambda kv: kv[1]):
        if key not in used_allow:
            violations.append(f"{m.path}:{number}: 'allow {key[0]} {key[1]}' matches no violating include any more: "
                              "delete the line")
    return violations


def run(root, map_path, out=sys.stdout):
    try:
        m = Map(map_path)
    except (OSError, MapError) as e:
        print(f"check_layers: {e}", file=out)
        return 2
    violations = check(root, m)
    for v in violations:
        print(v, file=out)
    if violations:
        print(f"check_layers: {len(violations)} include(s) break the layer map {map_path}", file=out)
        return 1
    print(f"check_layers: ok ({', '.join(m.order)}; {len(m.allow)} known exception(s) in {map_path})", file=out)
    return 0


def self_test():
    """Small trees with one broken rule each: the check must name the file:line and the rule, and pass clean ones."""
    here = os.path.dirname(os.path.abspath(__file__))
    # The real map plus one known exception, so that allow lines (used and stale) are tested too.
    map_dir = tempfile.TemporaryDirectory()
    map_path = os.path.join(map_dir.name, "layers.txt")
    with open(os.path.join(here, "layers.txt"), encoding="utf-8") as f, open(map_path, "w", encoding="utf-8") as g:
        g.write(f.read() + "\nallow ops/moba.cpp ops/cpu/moba_attention.h\n")
    layer_folders = list(Map(map_path).layers.values())  # every layer's folder exists in each small tree
    cases = [
        # (files {path: text}, expected substrings of the output, expected exit code)
        ({"core/a.h": "", "ops/b.cpp": '#include "core/a.h"\n'}, ["check_layers: ok"], 0),
        ({"core/a.h": '#include "nn/m.h"\n', "nn/m.h": ""}, ["core/a.h:1", "core sits below nn"], 1),
        ({"ops/cpu/k.cpp": '#include "cuda/c.h"\n', "cuda/c.h": ""},
         ["ops/cpu/k.cpp:1", "no kernel layer includes another"], 1),
        ({"cuda/k.cu": '\n#include "ops/cpu/k.h"\n', "ops/cpu/k.h": ""},
         ["cuda/k.cu:2", "no kernel layer includes another"], 1),
        ({"nn/m.cpp": '#include "tools/t.h"\n', "tools/t.h": ""},
         ["nn/m.cpp:1", "nothing below tools includes tools"], 1),
        ({"nn/m.cpp": '#include "models/x.h"\n', "models/x.h": ""}, ["nn/m.cpp:1", "nn sits below models"], 1),
        ({"nn/m.cpp": '#include "ops/cpu/k.h"\n', "ops/cpu/k.h": ""}, ["nn/m.cpp:1", "reached through the Backend"], 1),
        ({"nn/distributed/g.cpp": '#include "nn/m.h"\n', "nn/m.h": ""},
         ["nn/distributed/g.cpp:1", "distributed sits below nn"], 1),
        ({"tools/t.cpp": '#include "cuda/cuda.h"\n', "cuda/cuda.h": ""}, ["check_layers: ok"], 0),
        ({"nn/m.cpp": '#include "x.h"\n'}, ["nn/m.cpp:1", "not a file of the source tree"], 1),
        ({"nn/m.cpp": '#include "checkpoint.pb.h"\n', "nn/data/d.cpp": '#include "../m.h"\n', "nn/m.h": ""},
         ["check_layers: ok"], 0),
        ({"ops/moba.cpp": '#include "ops/cpu/moba_attention.h"\n', "ops/cpu/moba_attention.h": ""},
         ["check_layers: ok"], 0),
    ]
    failures = 0
    for files, expected, code in cases:
        with tempfile.TemporaryDirectory() as root:
            for layer_folder in layer_folders:
                os.makedirs(os.path.join(root, layer_folder), exist_ok=True)
            for path, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
                with open(os.path.join(root, path), "w", encoding="utf-8") as f:
                    f.write(text)
            if "ops/moba.cpp" not in files:  # the map's known exception must still match something
                os.makedirs(os.path.join(root, "ops/cpu"), exist_ok=True)
                with open(os.path.join(root, "ops/moba.cpp"), "w", encoding="utf-8") as f:
                    f.write('#include "ops/cpu/moba_attention.h"\n')
                with open(os.path.join(root, "ops/cpu/moba_attention.h"), "w", encoding="utf-8") as f:
                    f.write("")

            out = io.StringIO()
            got = run(root, map_path, out)
            missing = [e for e in expected if e not in out.getvalue()]
            if got != code or missing:
                failures += 1
                print(f"self-test FAILED for {sorted(files)}: exit {got} (expected {code}), missing {missing}\n"
                      f"{out.getvalue()}")
    # A stale known exception is itself an error.
    with tempfile.TemporaryDirectory() as root:
        for layer_folder in layer_folders:
            os.makedirs(os.path.join(root, layer_folder), exist_ok=True)
        out = io.StringIO()
        if run(root, map_path, out) != 1 or "matches no violating include" not in out.getvalue():
            failures += 1
            print(f"self-test FAILED: a stale allow line was not reported\n{out.getvalue()}")
    print(f"check_layers self-test: {'ok' if failures == 0 else f'{failures} case(s) FAILED'} "
          f"({len(cases) + 1} cases)")
    return 1 if failures else 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=os.path.normpath(os.path.join(here, "..", "..")),
                        help="the source tree (default: this script's repository)")
    parser.add_argument("--map", default=os.path.join(here, "layers.txt"), help="the layer map")
    parser.add_argument("--self-test", action="store_true", help="run the check on small trees with known answers")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    return run(args.root, args.map)


if __name__ == "__main__":
    sys.exit(main())
