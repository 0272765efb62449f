#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: it installs what
# grading needs and builds the torch-free grader from the sources in this bundle. There is no
# LibTorch here: LibTorch's references were computed when the bundle was made, and are in
# references.json. Gradescope's images are Ubuntu; gradverify is developed against Debian 12's
# packages, and scripts/test-bundle-in-chroot tests this script in a minimal Debian 12 root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
language="$(cat "$here/language")"  # cpp or python: the student kit
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The grader's build (g++, cmake, three header libraries, libcrypto), bubblewrap for its
# sandbox, python3 for the results when even the grader fails; numpy for the Python kit.
# nlohmann-json3-dev is also the C++ kit's runner's.
packages=(g++ make cmake nlohmann-json3-dev libcli11-dev libfmt-dev libssl-dev python3 bubblewrap)
if [ "$language" = python ]; then packages+=(python3-numpy); fi
apt-get install -y -qq --no-install-recommends "${packages[@]}"
cmake -S "$here/gradverify" -B "$here/gradverify/build" -DGRADVERIFY_WITH_TORCH=OFF -DGRADVERIFY_USE_CBLAS=OFF
# One job at a time: the grader's largest file needs about 450 MB to compile, two at once
# could exceed a small image's memory.
cmake --build "$here/gradverify/build" -j1 --target gradverify
"$here/gradverify/build/gradverify" --version
if [ "$language" = cpp ]; then "$here/build_kit_objects.sh"; fi
