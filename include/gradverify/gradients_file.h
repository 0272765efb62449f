#pragma once
// Forwarding header, kept for gradverify 0.2 only: include "gradverify/problem/gradients_file.h" instead.
// Since 0.2 the headers live in folders that match the targets (README, Layout).
#include "gradverify/problem/gradients_file.h"
