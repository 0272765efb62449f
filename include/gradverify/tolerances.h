#pragma once
// Forwarding header, kept for gradverify 0.2 only: include "gradverify/check/tolerances.h" instead.
// Since 0.2 the headers live in folders that match the targets (README, Layout).
#include "gradverify/check/tolerances.h"
