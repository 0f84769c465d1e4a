#pragma once
// Ready-made models.
#include "models/analytic_ntk.h"
#include "models/convnet.h"
#include "models/gpt.h"
#include "models/lie.h"
#include "models/mlp.h"
#include "models/model.h"
