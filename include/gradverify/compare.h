#pragma once
// Forwarding header, kept for gradverify 0.2 only: include "gradverify/check/compare.h" instead.
// Since 0.2 the headers live in folders that match the targets (README, Layout).
#include "gradverify/check/check.h"  // CheckReport, which compare.h held before 0.2
#include "gradverify/check/compare.h"
