#pragma once
// tangent::data: datasets, the DataLoader, transforms, random affine transforms (affine.h: the affine benchmark
// directory, augmentation), file formats (IDX, .npy, CSV, Fashion-MNIST, character-level text) and durable atomic
// writes (file_io.h).
#include "nn/data/affine.h"
#include "nn/data/affine_benchmark.h"
#include "nn/data/augment.h"
#include "nn/data/csv.h"
#include "nn/data/dataloader.h"
#include "nn/data/dataset.h"
#include "nn/data/fashion_mnist.h"
#include "nn/data/file_io.h"
#include "nn/data/idx.h"
#include "nn/data/npy.h"
#include "nn/data/text.h"
#include "nn/data/transforms.h"
