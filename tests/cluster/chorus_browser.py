"""chorus_browser.py — headless Chromium for the checks that watch the live view in a real
browser (tests/checks/node_view_browser.sh, cluster_view_moves.sh), driven by Selenium through
Debian's chromedriver. The checks run their Python from the repository's root and put
tests/cluster on sys.path to import this; browser_lib.sh checks that the tools are installed.
"""
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def start(profile):
    """A headless Chromium with its own profile directory (under the cluster's temporary
    directory, so that nothing is left behind and two pages never share state)."""
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1700", "--user-data-dir=" + profile):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def waiter(driver, screenshot, describe, interval=0.1):
    """wait_until(seconds, what, check): calls check every `interval` seconds until it returns
    something true, and returns that. Past the deadline it saves the page to `screenshot` and
    exits with what was waited for and describe()'s account of the page, so that a failure
    says what the page showed instead."""
    def wait_until(seconds, what, check):
        deadline = time.time() + seconds
        while True:
            result = check()
            if result:
                return result
            if time.time() > deadline:
                driver.save_screenshot(screenshot)
                sys.exit("within %d s: %s; %s" % (seconds, what, describe()))
            time.sleep(interval)
    return wait_until


def console_errors(driver):
    """The browser console's errors, but for those of a node that went away on purpose (its
    event stream cut, its connection refused)."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and
            "/events" not in e["message"] and "ERR_CONNECTION_REFUSED" not in e["message"]]
