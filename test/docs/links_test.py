"""README.md and docs/*.md stay inside the repository: every relative link (and every `docs/...`
or `apps/...` path they name) resolves to a file or folder of the tree, anchors included, and
nothing points outside it (no `../`, no other checkout's files, no private seed names).
"""
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
PATH = re.compile(r"`((?:docs|apps|core|dispatchers|test)/[A-Za-z0-9_./-]*[A-Za-z0-9_-])`")
OUTSIDE = [re.compile(p) for p in (r"\.\./", r"shared/protocols", r"\bseed\s+0\d\d", r"CONVENTIONS\.md")]


def anchors(path):
    """GitHub-style anchors of a Markdown file's headings."""
    found = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"#+\s+(.*)", line)
            if m:
                slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
                found.add(slug)
    return found


def main():
    pages = [os.path.join(REPO, "README.md")]
    docs = os.path.join(REPO, "docs")
    pages += sorted(os.path.join(docs, n) for n in os.listdir(docs) if n.endswith(".md"))
    problems, checked = [], 0
    for page in pages:
        name = os.path.relpath(page, REPO)
        text = open(page, encoding="utf-8").read()
        code_free = re.sub(r"```.*?```", "", text, flags=re.S)
        for lineno, line in enumerate(code_free.splitlines(), 1):
            for pattern in OUTSIDE:
                if pattern.search(line):
                    problems.append("%s:%d: points outside the repository: %s" % (name, lineno, line.strip()[:120]))
        targets = [(m.group(1), "link") for m in LINK.finditer(code_free)]
        targets += [(m.group(1), "path") for m in PATH.finditer(code_free)]
        for target, kind in targets:
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            # Links are relative to the page; paths named in backticks are from the top.
            base = os.path.dirname(page) if kind == "link" else REPO
            resolved = os.path.normpath(os.path.join(base, path)) if path else page
            checked += 1
            if not resolved.startswith(REPO + os.sep) and resolved != REPO:
                problems.append("%s: %s leaves the repository" % (name, target))
            elif not os.path.exists(resolved):
                # docs/design.md is written beside this work and arrives with it.
                problems.append("%s: %s does not exist" % (name, target))
            elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
                problems.append("%s: %s: no heading for #%s" % (name, target, anchor))
    for p in problems:
        print("links_test: " + p, file=sys.stderr)
    if problems:
        sys.exit(1)
    if checked < 10:
        print("links_test: only %d links found; the pattern is broken" % checked, file=sys.stderr)
        sys.exit(1)
    print("links_test: %d links and paths in %d pages resolve" % (checked, len(pages)))


main()
