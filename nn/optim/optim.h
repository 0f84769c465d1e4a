#pragma once
// tangent::optim: optimizers (SGD, Adam, AdamW, RMSprop), learning-rate schedulers and gradient clipping.
#include "nn/optim/adam.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/rmsprop.h"
#include "nn/optim/scheduler.h"
#include "nn/optim/sgd.h"
