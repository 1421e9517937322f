#!/usr/bin/env bash
# browser_lib.sh — what the checks that drive the live view in headless Chromium share
# (node_view_browser.sh, cluster_view_moves.sh); their Python imports
# tests/cluster/chorus_browser.py. Sourced after lib.sh.
set -u

# browser_require [MODULE...] — fails the check unless chromium, chromedriver, python3-selenium
# and the Python modules named are installed.
browser_require() {
    local modules="selenium" m
    for m in "$@"; do modules="$modules, $m"; done
    command -v chromium >/dev/null && command -v chromedriver >/dev/null ||
        fail "chromium or chromedriver is not installed (make deps)"
    /usr/bin/python3 -c "import $modules" 2>/dev/null ||
        fail "python3 cannot import $modules: not installed (make deps)"
}
