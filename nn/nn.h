#pragma once
// The neural-network library: modules, layers, losses, initialisers, optimisers, data, checkpoints.
#include "nn/activation.h"
#include "nn/container.h"
#include "nn/conv.h"
#include "nn/embedding.h"
#include "nn/functional.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/norm.h"
