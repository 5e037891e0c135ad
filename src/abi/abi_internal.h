/* Internal to src/abi/: what the job's siblings (tools.c) need of a job (job.c). */
#ifndef DLN_ABI_INTERNAL_H
#define DLN_ABI_INTERNAL_H

#include "dln/abi.h"
#include "dln/spec.h"

dln_spec *dln_abi_job_spec(dln_job *job);
void dln_abi_job_arm(dln_job *job);   /* clear its cancel flag before a new run */
int dln_abi_job_cancelled(void *job); /* nonzero once dln_job_cancel was called */

#endif
