/*
 * tools/bench/callgrind.c - instructions per allocator call: each job that
 * passed its runs is re-run as `bench child ... ir` under valgrind
 * --tool=callgrind, counting only inside the bench_call_* wrappers
 * (allocators.c), at --ir-scale, as many at a time as there are CPUs
 * (callgrind's count does not depend on the others' load).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* Fills r->ir of every job whose runs passed. */
void run_callgrind(const struct opts *o, struct job *jobs, int njobs)
{
	char pm[32], seed[32];
	snprintf(pm, sizeof pm, "%llu", (unsigned long long)o->ir_permille);
	snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
	char dir[] = "/tmp/memkern-bench-XXXXXX";
	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));
	int parallel = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (parallel < 1)
		parallel = 1;
	struct running { pid_t pid; int job; int fd; char out[4096]; size_t len; } run[64];
	int nrun = 0, next = 0;
	if (parallel > 64)
		parallel = 64;
	while (next < njobs || nrun) {
		while (nrun < parallel && next < njobs) {
			struct job *j = &jobs[next];
			if (j->r->state != 1) {
				next++;
				continue;
			}
			char cgout[512];
			snprintf(cgout, sizeof cgout, "--callgrind-out-file=%s/cg.%d", dir, next);
			const char *argv[] = { "valgrind", "-q", "--tool=callgrind", cgout, "--collect-atstart=no",
					       "--toggle-collect=bench_call_*", self_exe, "child", j->a->name,
					       j->wname, "ir", pm, seed, j->trace, NULL };
			int fds[2];
			if (pipe(fds))
				die("pipe");
			fflush(NULL);
			pid_t pid = fork();
			if (pid == 0) {
				dup2(fds[1], 1);
				close(fds[0]);
				close(fds[1]);
				const char *pre = preload_for(j->a);
				if (pre)
					setenv("LD_PRELOAD", pre, 1);
				else
					unsetenv("LD_PRELOAD");
				setenv("BENCH_CHILD_TIMEOUT", "1800", 1);
				execvp("valgrind", (char *const *)argv);
				_exit(127);
			}
			close(fds[1]);
			run[nrun] = (struct running){ .pid = pid, .job = next, .fd = fds[0] };
			nrun++;
			next++;
		}
		if (!nrun)
			break;
		/* Wait for any one to finish, reading its output (small) first. */
		int st;
		pid_t done = wait(&st);
		for (int i = 0; i < nrun; i++) {
			if (run[i].pid != done)
				continue;
			ssize_t n;
			while ((n = read(run[i].fd, run[i].out + run[i].len, sizeof run[i].out - 1 - run[i].len)) > 0)
				run[i].len += (size_t)n;
			run[i].out[run[i].len] = 0;
			close(run[i].fd);
			struct job *j = &jobs[run[i].job];
			double calls = 0;
			char path[512], line[512];
			snprintf(path, sizeof path, "%s/cg.%d", dir, run[i].job);
			FILE *f = fopen(path, "r");
			double total = 0;
			if (f) {
				while (fgets(line, sizeof line, f))
					if (!strncmp(line, "totals:", 7) || (!total && !strncmp(line, "summary:", 8)))
						total = strtod(strchr(line, ':') + 1, NULL);
				fclose(f);
				unlink(path);
			}
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && kv(run[i].out, "calls", &calls) && calls > 0)
				j->r->ir = total / calls;
			else
				fprintf(stderr, "bench: callgrind run of %s/%s failed\n", j->a->name, j->wname);
			run[i] = run[--nrun];
			break;
		}
	}
	rmdir(dir);
}
