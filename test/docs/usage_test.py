"""Each program's usage line (in its --help and in the README) names every option it has, so a
newcomer reading either sees all of them. The options are read from the program's own --help.
"""
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(os.environ.get("BUILD_DIR", os.path.join(REPO, "build")), "bin")
COMMON = {"--quiet", "--verbose", "--help"}  # every program's, said once in the README


def main():
    readme = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    # The README's usage lines: `program [--flag X] ...` in backticks, possibly over several lines.
    usages = {}
    for m in re.finditer(r"`([a-z][a-z-]+) ((?:--|\[)[^`]*)`", readme):
        usages.setdefault(m.group(1), []).append(m.group(2))
    programs = sorted(p for p in os.listdir(BIN) if os.access(os.path.join(BIN, p), os.X_OK))
    if len(programs) < 10:
        print("usage_test: only %d programs in %s" % (len(programs), BIN), file=sys.stderr)
        sys.exit(1)
    problems = []
    for program in programs:
        help_text = subprocess.run([os.path.join(BIN, program), "--help"], capture_output=True, text=True,
                                   timeout=10).stdout
        options = set(re.findall(r"^  (--[a-z][a-z-]*)", help_text, re.M)) - COMMON
        usage_line = help_text.split("\n\n", 1)[0]
        for option in sorted(options):
            if not re.search(re.escape(option) + r"\b", usage_line):
                problems.append("%s --help: the usage line leaves out %s" % (program, option))
        written = usages.get(program)
        if not written:
            problems.append("README: no usage line for %s" % program)
            continue
        named = " ".join(written)
        for option in sorted(options):
            if not re.search(re.escape(option) + r"\b", named):
                problems.append("README: the usage line of %s leaves out %s" % (program, option))
    for p in problems:
        print("usage_test: " + p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print("usage_test: %d programs, every option named in --help's usage line and in the README" % len(programs))


main()
