"""A pytest fixture that runs the tiktok-mock binary for the tests of a Python app.

The binary prints one JSON line when ready (``--ready-json``): its URL, the demo apps and
two ready access tokens. ``TIKTOK_MOCK_BIN`` names the binary (default: ``tiktok-mock`` on
the PATH, as ``cargo install --path mock-server`` puts it there).

    def test_profile(tiktok_mock):
        token = tiktok_mock["tokens"]["full"]["access_token"]
        ...  # point the app at tiktok_mock["url"]
"""

import json
import os
import subprocess

import pytest


@pytest.fixture(scope="session")
def tiktok_mock():
    binary = os.environ.get("TIKTOK_MOCK_BIN", "tiktok-mock")
    process = subprocess.Popen(
        [binary, "--addr", "127.0.0.1:0", "--clock", "manual", "--ready-json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"tiktok-mock exited with {process.wait()}")
        yield json.loads(line)
    finally:
        process.terminate()  # SIGTERM: the mock shuts down gracefully
        process.wait(timeout=10)
