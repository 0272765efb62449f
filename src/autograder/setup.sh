#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: it installs the
# packages gradverify needs and builds it from the sources in this bundle. Gradescope's
# images are Ubuntu; gradverify is developed against Debian 12's packages (LibTorch 1.13.1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq build-essential cmake libtorch-dev libopenblas-dev nlohmann-json3-dev libcli11-dev \
  libfmt-dev python3 bubblewrap
# Only the grader: the test suite and the kit's runners are not needed here.
cmake -S "$here/gradverify" -B "$here/gradverify/build" -DGRADVERIFY_BUILD_TESTS=OFF
cmake --build "$here/gradverify/build" -j"$(nproc)" --target gradverify
"$here/gradverify/build/gradverify" --version
"$here/build_kit_objects.sh"
