"""The ssh access page in real Chromium against a real server, the engine ticking behind it: ssh is
off without a key; a key with a command= option and a 2048-bit RSA key are refused in words, what
was pasted stays in the box and nothing is saved; a real ed25519 key (ssh-keygen) is saved where the
image's sshd reads it and listed with OpenSSH's fingerprint; removing it turns ssh off again. Only
administrators reach the page."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from firmware.ssh_access import keys_file
from tests.ssh_access.test_ssh_keys_api import rsa_key_line

from .browser_kit import ADMIN, PASSWORD, UNNAMED_CONTROLS_JS, chromium_page, office_and_server
from .live_server import create_admin, setup_code_in

pytestmark = pytest.mark.browser


def test_ssh_access_page(tmp_path: Path) -> None:
    from playwright.sync_api import expect
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "owner@laptop", "-f", str(tmp_path / "k")],
                   check=True, capture_output=True)
    key = (tmp_path / "k.pub").read_text().strip()
    fingerprint = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(tmp_path / "k.pub")], check=True,
                                 capture_output=True, text=True).stdout.split()[1]
    with office_and_server(tmp_path) as (office, base), chromium_page() as page:
        create_admin(page, base, ADMIN, PASSWORD, setup_code_in(office.web_dir))
        page.click("nav >> text=ssh access")
        expect(page.locator("#ssh-status")).to_contain_text("ssh is off")
        expect(page.locator("#ssh-keys")).to_have_count(0)
        assert page.evaluate(UNNAMED_CONTROLS_JS) == []
        stored = keys_file(office.web_dir)           # the in-process engine API's data folder (tests)

        box = page.locator("#ssh-add textarea[name=keys]")
        box.fill('command="/bin/sh" ' + key)
        page.click("#ssh-add button[type=submit]")
        expect(page.locator("#ssh-error")).to_contain_text("Linebox accepts only plain keys, without command=")
        expect(page.locator("#ssh-add textarea[name=keys]")).to_have_value('command="/bin/sh" ' + key)
        assert not stored.exists()

        page.locator("#ssh-add textarea[name=keys]").fill(rsa_key_line(2048, "old@laptop"))
        page.click("#ssh-add button[type=submit]")
        expect(page.locator("#ssh-error")).to_contain_text("at least 3072 bits")
        assert not stored.exists()

        page.locator("#ssh-add textarea[name=keys]").fill(key + "\n")
        page.click("#ssh-add button[type=submit]")
        expect(page.locator("text=Key saved: it may log in over ssh now.")).to_be_visible()
        expect(page.locator("#ssh-status")).to_contain_text("ssh is on for the 1 key below")
        row = page.locator(f"#ssh-keys tr[data-fingerprint='{fingerprint}']")
        expect(row).to_contain_text("ssh-ed25519 (256 bits)")
        expect(row).to_contain_text("owner@laptop")
        assert stored.read_text() == key + "\n"

        row.locator("button", has_text="Remove").click()
        expect(page.locator("text=Key removed.")).to_be_visible()
        expect(page.locator("#ssh-status")).to_contain_text("ssh is off")
        assert not stored.exists()
        assert page.console_errors == []
