/* dln/dln.h — the whole public interface of libdln. */
#ifndef DLN_DLN_H
#define DLN_DLN_H

#include "dln/error.h"
#include "dln/mat.h"
#include "dln/gemm.h"
#include "dln/rng.h"
#include "dln/table.h"
#include "dln/memory.h"
#include "dln/io.h"
#include "dln/manifest.h"
#include "dln/loss.h"
#include "dln/net.h"
#include "dln/init.h"
#include "dln/data.h"
#include "dln/observe.h"
#include "dln/train.h"
#include "dln/e2e.h"
#include "dln/theory.h"
#include "dln/spec.h"
#include "dln/run.h"
#include "dln/bias.h"
#include "dln/nuclear.h"
#include "dln/landscape.h"
#include "dln/ensemble.h"
#include "dln/check.h"
#include "dln/fit.h"
#include "dln/compress.h"
#include "dln/figure.h"
#include "dln/robust.h"
#include "dln/abi.h"

#endif
