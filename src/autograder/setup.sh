#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: it installs what
# grading needs and builds the torch-free grader from the sources in this bundle. There is no
# LibTorch here: LibTorch's references were computed when the bundle was made, and are in
# references.json. Gradescope's images are Ubuntu; gradverify is developed against Debian 12's
# packages, and scripts/test-bundle-in-chroot tests this script in a minimal Debian 12 root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The grader's build (g++, cmake, three header libraries, libcrypto), bubblewrap for its
# sandbox, python3 for the results when even the grader fails.
apt-get install -y -qq --no-install-recommends g++ make cmake nlohmann-json3-dev libcli11-dev libfmt-dev libssl-dev \
  python3 bubblewrap
cmake -S "$here/gradverify" -B "$here/gradverify/build" -DGRADVERIFY_WITH_TORCH=OFF -DGRADVERIFY_USE_CBLAS=OFF
# One job at a time: the grader's largest file needs about 400 MB to compile, two at once
# could exceed a small image's memory.
cmake --build "$here/gradverify/build" -j1 --target gradverify
"$here/gradverify/build/gradverify" --version
"$here/build_kit_objects.sh"
