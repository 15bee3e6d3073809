/*
 * tools/bench/trace-record.c - an LD_PRELOAD shim that records a program's
 * malloc family calls as a memkern allocation trace, for `bench` to replay
 * on every allocator:
 *
 *   MEMKERN_TRACE=/tmp/ls.%p.trace LD_PRELOAD=build/bench/trace-record.so ls -R /usr/share
 *
 * The trace is text, one call a line ('#' starts a comment line):
 *   m ID SIZE          malloc(SIZE), and realloc(NULL, SIZE)
 *   c ID N SIZE        calloc(N, SIZE)
 *   a ID ALIGN SIZE    memalign, posix_memalign, aligned_alloc, valloc
 *   r ID SIZE          realloc of block ID to SIZE (the block keeps its id)
 *   f ID               free(block ID), and realloc(p, 0) when that freed p
 *
 * (%p becomes the process id; the default is memkern-trace.%p in the current
 * directory.) Each process writes its own file; a forked child starts a new
 * one. Calls from several threads are serialised by a spinlock and recorded
 * in the order they took it. The real allocator is glibc's (dlsym
 * RTLD_NEXT); dlsym itself may calloc before we know where calloc is, which a
 * small static arena serves and the trace never sees.
 *
 * Blocks are named by small ids: an id is reused once its block is freed, so
 * the highest id is the highest number of blocks ever live at once, and the
 * replayer needs only that many slots. Frees of pointers the shim never saw
 * (allocated before it was loaded) are not recorded.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void *(*real_memalign)(size_t, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

/* For dlsym's own allocations while we resolve the real functions. */
static char boot_arena[8192] __attribute__((aligned(16)));
static size_t boot_used;
static int resolving;

static volatile int lock_word;
static __thread int in_shim;        /* our own calls (snprintf, the table) are not recorded */

static void lock(void)
{
	while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}
static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

/* ----- pointer -> id: open addressing over mmap'd memory ----- */

struct ent { uintptr_t p; uint32_t id; };
static struct ent *tab;
static size_t tab_cap, tab_used, tab_dead;
static uint32_t *free_ids;          /* stack of reusable ids */
static size_t free_ids_n, free_ids_cap;
static uint32_t next_id;
#define DEAD ((uintptr_t)1)

static size_t hash_ptr(uintptr_t p) { return (size_t)((p >> 4) * 0x9e3779b97f4a7c15ull); }

static void *raw_map(size_t bytes)
{
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

static void tab_put(uintptr_t p, uint32_t id);

static int tab_grow(void)
{
	struct ent *old = tab;
	size_t old_cap = tab_cap;
	size_t cap = old_cap ? old_cap * 2 : 1 << 16;
	if (tab_used - tab_dead < old_cap / 4)
		cap = old_cap ? old_cap : cap;   /* mostly tombstones: rebuild at the same size */
	struct ent *n = raw_map(cap * sizeof *n);
	if (!n)
		return -1;
	tab = n;
	tab_cap = cap;
	tab_used = tab_dead = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].p > DEAD)
			tab_put(old[i].p, old[i].id);
	if (old)
		munmap(old, old_cap * sizeof *old);
	return 0;
}

static void tab_put(uintptr_t p, uint32_t id)
{
	if ((tab_used + 1) * 4 > tab_cap * 3 && tab_grow())
		return;
	for (size_t i = hash_ptr(p) & (tab_cap - 1);; i = (i + 1) & (tab_cap - 1)) {
		if (tab[i].p == 0 || tab[i].p == DEAD) {
			if (tab[i].p == DEAD)
				tab_dead--;
			else
				tab_used++;
			tab[i].p = p;
			tab[i].id = id;
			return;
		}
	}
}

/* Removes p and returns its id, or -1 if the shim never saw it. */
static int64_t tab_take(uintptr_t p)
{
	if (!tab_cap)
		return -1;
	for (size_t i = hash_ptr(p) & (tab_cap - 1);; i = (i + 1) & (tab_cap - 1)) {
		if (tab[i].p == 0)
			return -1;
		if (tab[i].p == p) {
			tab[i].p = DEAD;
			tab_dead++;
			return tab[i].id;
		}
	}
}

static uint32_t id_new(void)
{
	if (free_ids_n)
		return free_ids[--free_ids_n];
	return next_id++;
}

static void id_release(uint32_t id)
{
	if (free_ids_n == free_ids_cap) {
		size_t cap = free_ids_cap ? free_ids_cap * 2 : 1 << 14;
		uint32_t *n = raw_map(cap * sizeof *n);
		if (!n)
			return;        /* the id is simply not reused */
		if (free_ids) {
			memcpy(n, free_ids, free_ids_n * sizeof *n);
			munmap(free_ids, free_ids_cap * sizeof *n);
		}
		free_ids = n;
		free_ids_cap = cap;
	}
	free_ids[free_ids_n++] = id;
}

/* ----- the output file ----- */

static int out_fd = -1;
static char out_buf[1 << 16];
static size_t out_len;
static pid_t out_pid;

static void out_flush(void)
{
	size_t off = 0;
	while (off < out_len) {
		ssize_t n = write(out_fd, out_buf + off, out_len - off);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		off += (size_t)n;
	}
	out_len = 0;
}

static void out_open(void)
{
	char path[512];
	const char *pat = getenv("MEMKERN_TRACE");
	if (!pat || !*pat)
		pat = "memkern-trace.%p";
	size_t j = 0;
	for (const char *s = pat; *s && j < sizeof path - 24; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			j += (size_t)snprintf(path + j, sizeof path - j, "%d", (int)getpid());
			s++;
		} else {
			path[j++] = *s;
		}
	}
	path[j] = 0;
	out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	out_pid = getpid();
	out_len = 0;
	if (out_fd >= 0) {
		static const char head[] = "# memkern alloc trace v1: m ID SIZE | c ID N SIZE | a ID ALIGN SIZE | r ID SIZE | f ID\n";
		memcpy(out_buf, head, sizeof head - 1);
		out_len = sizeof head - 1;
	}
}

static void out_line(const char *fmt, unsigned long a, unsigned long b, unsigned long c)
{
	if (out_pid != getpid()) {
		/* a forked child: its own file, ids as inherited */
		if (out_fd >= 0 && out_pid)
			close(out_fd);
		out_fd = -1;
		out_open();
	}
	if (out_fd < 0)
		return;
	if (out_len > sizeof out_buf - 128)
		out_flush();
	out_len += (size_t)snprintf(out_buf + out_len, sizeof out_buf - out_len, fmt, a, b, c);
}

__attribute__((destructor)) static void shim_fini(void)
{
	lock();
	if (out_fd >= 0 && out_pid == getpid())
		out_flush();
	unlock();
}

static void resolve(void)
{
	if (real_malloc || resolving)
		return;
	resolving = 1;
	real_calloc = dlsym(RTLD_NEXT, "calloc");
	real_malloc = dlsym(RTLD_NEXT, "malloc");
	real_free = dlsym(RTLD_NEXT, "free");
	real_realloc = dlsym(RTLD_NEXT, "realloc");
	real_memalign = dlsym(RTLD_NEXT, "memalign");
	real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
	resolving = 0;
}

static int from_boot(void *p)
{
	return (char *)p >= boot_arena && (char *)p < boot_arena + sizeof boot_arena;
}

static void *boot_alloc(size_t n)
{
	size_t off = (boot_used + 15) & ~(size_t)15;
	if (off + n > sizeof boot_arena)
		return NULL;
	boot_used = off + n;
	return boot_arena + off;
}

/* Records a new block (or nothing when p is NULL or the call was ours). */
static void note_new(void *p, const char *fmt, unsigned long a, unsigned long b)
{
	if (!p || in_shim)
		return;
	in_shim = 1;
	lock();
	uint32_t id = id_new();
	tab_put((uintptr_t)p, id);
	out_line(fmt, id, a, b);
	unlock();
	in_shim = 0;
}

void *malloc(size_t n)
{
	resolve();
	if (!real_malloc)
		return boot_alloc(n);
	void *p = real_malloc(n);
	note_new(p, "m %lu %lu\n", n, 0);
	return p;
}

void *calloc(size_t n, size_t size)
{
	resolve();
	if (!real_calloc)
		return boot_alloc(n * size);     /* static, hence zero */
	void *p = real_calloc(n, size);
	note_new(p, "c %lu %lu %lu\n", n, size);
	return p;
}

void *memalign(size_t align, size_t n)
{
	resolve();
	void *p = real_memalign(align, n);
	note_new(p, "a %lu %lu %lu\n", align, n);
	return p;
}

void *aligned_alloc(size_t align, size_t n)
{
	resolve();
	void *p = real_aligned_alloc(align, n);
	note_new(p, "a %lu %lu %lu\n", align, n);
	return p;
}

int posix_memalign(void **out, size_t align, size_t n)
{
	resolve();
	int r = real_posix_memalign(out, align, n);
	if (!r)
		note_new(*out, "a %lu %lu %lu\n", align, n);
	return r;
}

void *valloc(size_t n) { return memalign((size_t)sysconf(_SC_PAGESIZE), n); }

void *pvalloc(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	return memalign(pg, (n + pg - 1) & ~(pg - 1));
}

void free(void *p)
{
	if (!p || from_boot(p))
		return;
	resolve();
	if (!in_shim) {
		in_shim = 1;
		lock();
		int64_t id = tab_take((uintptr_t)p);
		if (id >= 0) {
			out_line("f %lu\n", (unsigned long)id, 0, 0);
			id_release((uint32_t)id);
		}
		unlock();
		in_shim = 0;
	}
	real_free(p);
}

void *realloc(void *p, size_t n)
{
	resolve();
	if (p && from_boot(p)) {
		void *q = malloc(n);
		if (q)
			memcpy(q, p, n);   /* the arena is larger than anything dlsym asked for */
		return q;
	}
	if (in_shim)
		return real_realloc(p, n);
	void *q = real_realloc(p, n);
	if (!q && n)
		return NULL;           /* failed: p is untouched, nothing to record */
	in_shim = 1;
	lock();
	int64_t old = p ? tab_take((uintptr_t)p) : -1;
	if (q) {
		/* the block keeps its id across realloc, moved or not */
		uint32_t id = old >= 0 ? (uint32_t)old : id_new();
		tab_put((uintptr_t)q, id);
		if (old >= 0)
			out_line("r %lu %lu\n", id, n, 0);
		else
			out_line("m %lu %lu\n", id, n, 0);   /* realloc(NULL, n), or of a block we never saw */
	} else if (old >= 0) {
		/* realloc(p, 0) freed p */
		out_line("f %lu\n", (unsigned long)old, 0, 0);
		id_release((uint32_t)old);
	}
	unlock();
	in_shim = 0;
	return q;
}
