#pragma once
// Forwarding header, kept for gradverify 0.2 only: include "gradverify/problem/problem.h" and the
// part you use (init.h, data.h, problem_file.h, manual_mlp.h) instead.
// Since 0.2 the headers live in folders that match the targets (README, Layout).
#include "gradverify/problem/data.h"
#include "gradverify/problem/init.h"
#include "gradverify/problem/manual_mlp.h"
#include "gradverify/problem/problem.h"
#include "gradverify/problem/problem_file.h"
