#include "support/gradcheck.h"
