#!/usr/bin/env bash
# Mesa's software Vulkan device (lavapipe) for the device-path test (tests/device_path.rs) and
# CI: the Vulkan loader (libvulkan1), Mesa's Vulkan drivers (mesa-vulkan-drivers, which ship
# lavapipe) and vulkan-tools (vulkaninfo, to show what was found). Idempotent: apt-get runs only
# when something is missing. Prints the Vulkan devices the loader sees.
#
#   scripts/lavapipe_install.sh        # root on Debian/Ubuntu; a no-op once installed
set -euo pipefail

packages=(libvulkan1 mesa-vulkan-drivers vulkan-tools)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "error: installing ${missing[*]} needs root (apt-get)" >&2; exit 1; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    echo "lavapipe: installed ${missing[*]}"
else
    echo "lavapipe: already installed"
fi

# lavapipe's ICD manifest: without it the loader finds no device and the test would fail later
# with a less direct message.
icd=$(ls /usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null | head -1 || true)
[ -n "$icd" ] || { echo "error: no lavapipe ICD manifest in /usr/share/vulkan/icd.d" >&2; exit 1; }
echo "lavapipe: ICD $icd"
vulkaninfo --summary 2>/dev/null | sed -n '/^Devices:/,$p' | grep -E 'deviceName|deviceType|apiVersion|driverInfo' || {
    echo "error: vulkaninfo lists no Vulkan device" >&2
    exit 1
}
