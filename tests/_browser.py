"""Headless Chromium for page tests, driven by its command line only.

--dump-dom gives the DOM after the page's scripts ran and --screenshot a PNG,
so no Python package is needed. Pages record what they want checked as
attributes on <body> (read with `body_attribute`).
"""

import os
import re
import shutil
import subprocess

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", "--window-size=1280,2000"]


@pytest.fixture(scope="session")
def chromium():
    """Path of a headless Chromium; installed with apt-get when missing and we are root."""
    if not os.path.exists(CHROMIUM):
        apt = shutil.which("apt-get")
        if apt is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
            pytest.skip(f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = [apt, "install", "-y", "-q", "chromium", "chromium-driver"]
        done = subprocess.run(install, capture_output=True, text=True, timeout=600, env=env)
        if done.returncode != 0:  # a fresh container may have no package lists yet
            subprocess.run([apt, "update", "-q"], capture_output=True, timeout=600, env=env)
            done = subprocess.run(install, capture_output=True, text=True, timeout=600, env=env)
        if done.returncode != 0 or not os.path.exists(CHROMIUM):
            pytest.skip(f"apt-get install chromium failed: {done.stderr[-500:]}")
    return CHROMIUM


def run_chromium(chromium, page, profile, *extra):
    """(stdout, stderr) of one headless Chromium run on a local page."""
    done = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *extra, "file://" + str(page)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def console_problems(stderr):
    """Console messages and uncaught errors Chromium logged for the page."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def body_attribute(dom, name):
    match = re.search(rf'<body[^>]*\b{name}="(\d+)"', dom)
    assert match, f"<body> has no {name}: the page's script did not run"
    return int(match.group(1))
