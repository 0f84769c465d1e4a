#pragma once
// tangent::data: datasets, the DataLoader, transforms, file formats (IDX, .npy, CSV, Fashion-MNIST, character-level
// text) and durable atomic writes (file_io.h).
#include "nn/data/csv.h"
#include "nn/data/dataloader.h"
#include "nn/data/dataset.h"
#include "nn/data/fashion_mnist.h"
#include "nn/data/file_io.h"
#include "nn/data/idx.h"
#include "nn/data/npy.h"
#include "nn/data/text.h"
#include "nn/data/transforms.h"
