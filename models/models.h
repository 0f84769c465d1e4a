#pragma once
// Ready-made models.
#include "models/convnet.h"
#include "models/gpt.h"
#include "models/mlp.h"
#include "models/model.h"
