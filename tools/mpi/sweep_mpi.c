/* `mpirun -n R dln sweep ...` (docs/mpi.md): the transport of dln_ensemble_peers
 * (dln/ensemble.h; src/run/ensemble_peers.c) over MPI. Built only with -DDLN_MPI=ON; the
 * only file that includes mpi.h. Only the calling thread calls MPI (MPI_THREAD_FUNNELED):
 * the sweep's workers are threads that never do.
 *   sync  MPI_Allreduce (max of the statuses), then MPI_Bcast of rank 0's bytes;
 *   send  MPI_Send of one record to rank 0 (tag 1);
 *   recv  MPI_Iprobe / MPI_Recv from any rank, polled every 2 ms up to the wait. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include "cli.h"
#include "dln/dln.h"

enum { TAG_RECORD = 1 };

static int mpi_sync(void *ctx, int status, unsigned char *buf, long n) {
  (void)ctx;
  int all = 0;
  if (MPI_Allreduce(&status, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS) return DLN_EIO;
  if (!all && n > 0 && MPI_Bcast(buf, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS) return DLN_EIO;
  return all;
}

static int mpi_send(void *ctx, const char *text, size_t len) {
  (void)ctx;
  if (len > (size_t)0x7fffffff) return 1;
  return MPI_Send(text, (int)len, MPI_CHAR, 0, TAG_RECORD, MPI_COMM_WORLD) != MPI_SUCCESS;
}

static int mpi_recv(void *ctx, double wait, char **text, size_t *len, int *from) {
  (void)ctx;
  double t0 = MPI_Wtime();
  for (;;) {
    int flag = 0, n = 0;
    MPI_Status s;
    if (MPI_Iprobe(MPI_ANY_SOURCE, TAG_RECORD, MPI_COMM_WORLD, &flag, &s) != MPI_SUCCESS) return -1;
    if (flag) {
      if (MPI_Get_count(&s, MPI_CHAR, &n) != MPI_SUCCESS || n < 0 || !(*text = malloc((size_t)n + 1))) return -1;
      if (MPI_Recv(*text, n, MPI_CHAR, s.MPI_SOURCE, TAG_RECORD, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        free(*text);
        return -1;
      }
      (*text)[n] = '\0';
      *len = (size_t)n;
      *from = s.MPI_SOURCE;
      return 1;
    }
    if (MPI_Wtime() - t0 >= wait) return 0;
    struct timespec ts = {0, 2000000L};
    nanosleep(&ts, NULL);
  }
}

int cli_mpi_begin(dln_ensemble_peers *p) {
  memset(p, 0, sizeof *p);
  p->nranks = 1;
  /* started by a process manager (OpenMPI's mpirun: OMPI_COMM_WORLD_SIZE; PMIx, PMI):
   * otherwise no MPI at all, the serial sweep */
  if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK")) return 0;
  int prov = 0;
  if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &prov) != MPI_SUCCESS) {
    fprintf(stderr, "dln: sweep: MPI_Init_thread failed\n");
    return -1;
  }
  cli_catch_sigint(); /* ours again, whatever MPI_Init installed */
  MPI_Comm_rank(MPI_COMM_WORLD, &p->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &p->nranks);
  p->sync = mpi_sync;
  p->send = mpi_send;
  p->recv = mpi_recv;
  return 1;
}

void cli_mpi_end(int rc, int stop_all) {
  fflush(stdout);
  fflush(stderr);
  if (stop_all) MPI_Abort(MPI_COMM_WORLD, rc); /* ranks blocked sending to rank 0 are stopped too */
  MPI_Finalize();
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

int cli_mpi_tmpdir(char *buf, size_t n, int rank) {
  const char *t = getenv("TMPDIR");
  int w = snprintf(buf, n, "%s/dln-sweep-rank%d-XXXXXX", t && *t ? t : "/tmp", rank);
  if (w < 0 || (size_t)w >= n || !mkdtemp(buf)) {
    fprintf(stderr, "dln: rank %d: cannot create a folder for its data sets in %s: %s\n", rank, t && *t ? t : "/tmp",
            strerror(errno));
    return -1;
  }
  return 0;
}

void cli_mpi_rmtree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }
