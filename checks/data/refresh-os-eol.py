#!/usr/bin/env python3
"""Compare checks/data/os-eol.toml with the dates published by endoflife.date.

Prints one line per release whose date differs, and releases endoflife.date knows that the
dataset lacks. It changes nothing: review the vendor's page (each entry's `source`) and edit
os-eol.toml by hand. Needs network access to endoflife.date; run it before a release.

    python3 checks/data/refresh-os-eol.py
"""
import json
import sys
import tomllib
import urllib.request
from pathlib import Path

# our os-release ID -> endoflife.date product, and which of its fields is our security_end
PRODUCTS = {
    "debian": ("debian", "extendedSupport"),  # LTS, free, same repositories
    "ubuntu": ("ubuntu", "eol"),
    "rhel": ("rhel", "eol"),
    "rocky": ("rocky-linux", "eol"),
    "almalinux": ("almalinux", "eol"),
    "centos": ("centos", "eol"),
    "ol": ("oracle-linux", "eol"),
    "fedora": ("fedora", "eol"),
    "alpine": ("alpine", "eol"),
    "sles": ("sles", "eol"),
    "opensuse-leap": ("opensuse", "eol"),
    "windows-server": ("windows-server", "eol"),
}


def fetch(product):
    url = f"https://endoflife.date/api/{product}.json"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def main():
    data = tomllib.loads(Path(__file__).with_name("os-eol.toml").read_text())
    ours = {(r["id"], r["version"]): r for r in data["release"]}
    differences = 0
    for os_id, (product, field) in PRODUCTS.items():
        try:
            cycles = fetch(product)
        except OSError as error:
            print(f"{os_id}: cannot fetch {product}: {error}", file=sys.stderr)
            continue
        for cycle in cycles:
            version = str(cycle.get("cycle", "")).lower().replace(" ", "")
            theirs = cycle.get(field)
            if field == "extendedSupport" and not isinstance(theirs, str):
                theirs = cycle.get("eol")
            if not isinstance(theirs, str):
                continue
            mine = ours.get((os_id, version))
            if mine is None:
                if theirs >= "2024-01-01":
                    print(f"missing  {os_id} {version}: {theirs}")
                    differences += 1
            elif str(mine["security_end"]) != theirs:
                print(f"differs  {os_id} {version}: ours {mine['security_end']}, endoflife.date {theirs}")
                differences += 1
    print(f"{differences} difference(s)")


if __name__ == "__main__":
    main()
