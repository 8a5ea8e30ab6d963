// SPDX-License-Identifier: MIT
/*
 * dm_kvm_capture: tracefs set-up, streaming and tear-down.
 *
 * Everything the capture changes is recorded in struct session as it is
 * changed, and undone by one function, whatever path leads there.
 */
#define _GNU_SOURCE /* unshare(2) */
#include "sim/kvm/capture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TRACEFS_DEFAULT "/sys/kernel/tracing"
#define DEBUGFS_DEFAULT "/sys/kernel/debug"
#define DEFAULT_BUFFER_KB 8192
#define POLL_MS 100
#define MAX_TIDS 4096

/*
 * The tracepoints the importer reads (issue 7), by tracefs group:
 * accesses, lines and messages, acceptance and EOI, plus
 * kvm_userspace_exit (a read served by userspace completes after it),
 * kvm_write_tsc_offset (TSC-deadline values are guest TSC counts),
 * sched_switch (an access served by userspace takes effect only once its
 * vcpu thread runs again; the pid filter keeps the switches of the traced
 * threads) and sched_wakeup (when KVM's kvm-pit worker was woken, by the
 * PIT's hrtimer or the guest's acknowledgement: its raise of IRQ0 is late
 * by the host's scheduling after that).  kvm_pio and kvm_mmio are
 * indispensable.
 */
static const char *const trace_events[] = {
	"kvm/kvm_pio",
	"kvm/kvm_mmio",
	"kvm/kvm_msr",
	"kvm/kvm_apic",
	"kvm/kvm_set_irq",
	"kvm/kvm_msi_set_irq",
	"kvm/kvm_pic_set_irq",
	"kvm/kvm_ioapic_set_irq",
	"kvm/kvm_apic_accept_irq",
	"kvm/kvm_inj_virq",
	"kvm/kvm_eoi",
	"kvm/kvm_apic_ipi",
	"kvm/kvm_entry",
	"kvm/kvm_userspace_exit",
	"kvm/kvm_write_tsc_offset",
	"sched/sched_switch",
	"sched/sched_wakeup",
};
#define ESSENTIAL_EVENTS 2

/* Clocks in order of preference: the TSC is what TSC-deadline values
 * count; "mono" and "global" are at least ordered across CPUs. */
static const char *const clocks[] = {"x86-tsc", "mono", "global"};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

struct session {
	const struct dm_capture_opts *o;
	struct dm_capture_stats *st;
	struct dm_error *err;
	char tracefs[256];
	char instance[320];
	bool tracefs_mounted, instance_made, sigs_set;
	int private_ns; /* 0 not tried, 1 own mount namespace, -1 refused */
	struct sigaction old[3];
	int pipe_fd;
	FILE *raw;
	char buf[1 << 16]; /* trace_pipe reads */
	char tids[MAX_TIDS * 12];
};

static const int caught[3] = {SIGINT, SIGTERM, SIGHUP};

static void say(struct session *s, const char *fmt, const char *arg)
{
	if (s->o->log) {
		fputs("capture: ", s->o->log);
		fprintf(s->o->log, fmt, arg);
		fputc('\n', s->o->log);
	}
}

/* ---- files --------------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	size_t n = strlen(text);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = write(fd, text, n);
	close(fd);
	return w == (ssize_t)n ? 0 : -1;
}

static int read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int inst_write(struct session *s, const char *rel, const char *text)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", s->instance, rel);
	if (write_file(path, text))
		return dm_errorf(s->err, "%s: %s", path, strerror(errno));
	return 0;
}

/* The mount point of a filesystem type, from /proc/mounts. */
static bool find_mount(const char *type, char *dir, size_t cap)
{
	FILE *f = fopen("/proc/mounts", "re");
	char dev[256], mnt[256], fs[64];
	bool found = false;

	while (f && !found &&
	       fscanf(f, "%255s %255s %63s %*[^\n]", dev, mnt, fs) == 3)
		if (!strcmp(fs, type)) {
			snprintf(dir, cap, "%s", mnt);
			found = true;
		}
	if (f)
		fclose(f);
	return found;
}

/* ---- set-up ---------------------------------------------------------- */

/*
 * A filesystem the capture mounts goes into a mount namespace of its own:
 * nobody else sees it come and go (a second capture running at the same
 * time would otherwise find it mounted, use it, and have it unmounted
 * under it), and it vanishes with the process.  Where a namespace is
 * refused (a container without CAP_SYS_ADMIN), it is mounted in place and
 * unmounted afterwards.
 */
static bool private_mounts(struct session *s)
{
	if (!s->private_ns) {
		s->private_ns = -1;
		if (!unshare(CLONE_NEWNS) &&
		    !mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			s->private_ns = 1;
	}
	return s->private_ns > 0;
}

static int mount_tracefs(struct session *s)
{
	if (find_mount("tracefs", s->tracefs, sizeof(s->tracefs)))
		return 0;
	private_mounts(s);
	if (mount("nodev", TRACEFS_DEFAULT, "tracefs", 0, NULL))
		return dm_errorf(s->err,
				 "tracefs is not mounted and mounting it on "
				 "%s failed: %s",
				 TRACEFS_DEFAULT, strerror(errno));
	snprintf(s->tracefs, sizeof(s->tracefs), "%s", TRACEFS_DEFAULT);
	s->tracefs_mounted = s->private_ns < 0;
	return 0;
}

static int make_instance(struct session *s)
{
	snprintf(s->instance, sizeof(s->instance), "%s/instances/dmsim-%d",
		 s->tracefs, (int)getpid());
	if (mkdir(s->instance, 0700))
		return dm_errorf(s->err, "%s: %s%s", s->instance,
				 strerror(errno),
				 errno == EEXIST ? " (left by a capture that "
						   "died? rmdir it)"
						 : "");
	s->instance_made = true;
	return 0;
}

static int choose_clock(struct session *s)
{
	char path[512], avail[1024];

	snprintf(path, sizeof(path), "%s/trace_clock", s->instance);
	if (read_file(path, avail, sizeof(avail)))
		return dm_errorf(s->err, "%s: %s", path, strerror(errno));
	for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		const char *p = strstr(avail, clocks[i]);
		size_t n = strlen(clocks[i]);

		if (p && (p == avail || p[-1] == ' ' || p[-1] == '[') &&
		    (p[n] == ' ' || p[n] == ']' || p[n] == '\n' || !p[n])) {
			snprintf(s->st->clock, sizeof(s->st->clock), "%s",
				 clocks[i]);
			return inst_write(s, "trace_clock", clocks[i]);
		}
	}
	snprintf(s->st->clock, sizeof(s->st->clock), "local");
	say(s,
	    "warning: no x86-tsc, mono or global trace clock (%s): "
	    "the per-CPU local clock is not ordered across CPUs",
	    avail);
	return 0;
}

/* Threads of the process, plus KVM's PIT worker (the kernel thread
 * "kvm-pit/PID", which raises IRQ0). */
static int collect_tids(struct session *s, char *list, size_t cap)
{
	char path[64], comm[64], want[32];
	struct dirent *d;
	size_t n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", s->o->pid);
	dir = opendir(path);
	if (!dir)
		return dm_errorf(s->err, "process %d: %s", s->o->pid,
				 strerror(errno));
	while ((d = readdir(dir)) && n + 16 < cap)
		if (d->d_name[0] != '.') {
			n += (size_t)snprintf(list + n, cap - n, "%s ",
					      d->d_name);
			s->st->threads++;
		}
	closedir(dir);
	snprintf(want, sizeof(want), "kvm-pit/%d\n", s->o->pid);
	dir = opendir("/proc");
	while (dir && (d = readdir(dir)) && n + 16 < cap) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.16s/comm", d->d_name);
		if (!read_file(path, comm, sizeof(comm)) &&
		    !strcmp(comm, want)) {
			n += (size_t)snprintf(list + n, cap - n, "%s ",
					      d->d_name);
			s->st->threads++;
			s->st->pit_thread = true;
		}
	}
	if (dir)
		closedir(dir);
	return 0;
}

/*
 * The pid filter lists every thread (set_event_pid matches thread ids,
 * not the process id), and event-fork adds the threads created later.
 */
static int filter_pids(struct session *s)
{
	s->tids[0] = '\0';
	if (collect_tids(s, s->tids, sizeof(s->tids)) ||
	    inst_write(s, "set_event_pid", s->tids) ||
	    inst_write(s, "options/event-fork", "1"))
		return -1;
	return 0;
}

static int enable_events(struct session *s)
{
	char rel[128];

	for (size_t i = 0; i < sizeof(trace_events) / sizeof(trace_events[0]);
	     i++) {
		snprintf(rel, sizeof(rel), "events/%s/enable", trace_events[i]);
		if (!inst_write(s, rel, "1"))
			continue;
		if (i < ESSENTIAL_EVENTS)
			return -1;
		say(s, "warning: tracepoint %s unavailable", trace_events[i]);
	}
	return 0;
}

static void catch_signals(struct session *s)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	stop_signal = 0;
	for (int i = 0; i < 3; i++)
		sigaction(caught[i], &sa, &s->old[i]);
	s->sigs_set = true;
}

/* ---- the raw file's comment lines -------------------------------------- */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_raw_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC_RAW);
}

/* The kernel's TSC rate, when the CPU reports it exactly (CPUID leaf
 * 0x15/0x16 or a hypervisor leaf: "tsc_known_freq"); 0 otherwise, and the
 * importer measures it from the clock markers. */
static uint64_t known_tsc_hz(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];
	unsigned long mhz, khz;
	uint64_t hz = 0;
	bool known = false;

	while (f && fgets(line, sizeof(line), f)) {
		if (!hz && sscanf(line, "cpu MHz : %lu.%3lu", &mhz, &khz) == 2)
			hz = ((uint64_t)mhz * 1000 + khz) * 1000;
		if (!strncmp(line, "flags", 5) &&
		    strstr(line, " tsc_known_freq"))
			known = true;
		if (hz && known)
			break;
	}
	if (f)
		fclose(f);
	return known ? hz : 0;
}

/* One number from a debugfs file; fallback when it cannot be read. */
static long long debugfs_number(const char *vm, const char *vcpu,
				const char *file, long long fallback)
{
	char path[4096], buf[64];

	snprintf(path, sizeof(path), "%s/%.64s/%s", vm, vcpu, file);
	return read_file(path, buf, sizeof(buf)) ? fallback
						 : strtoll(buf, NULL, 10);
}

/* "# dmsim-vcpu N tid=T tsc_offset=O" for each vcpuN of one VM.  A vcpu
 * that never entered KVM shows thread 0 and is listed so: an AP that no
 * firmware started logs nothing, and the importer counts it from here. */
static void vm_vcpus(struct session *s, const char *vm)
{
	DIR *dir = opendir(vm);
	struct dirent *d;

	while (dir && (d = readdir(dir))) {
		long long tid, off;
		unsigned id;

		if (sscanf(d->d_name, "vcpu%u", &id) != 1)
			continue;
		tid = debugfs_number(vm, d->d_name, "pid", -1);
		off = debugfs_number(vm, d->d_name, "tsc-offset", 0);
		if (tid < 0)
			continue;
		fprintf(s->raw, "# dmsim-vcpu %u tid=%lld tsc_offset=%lld\n",
			id, tid, off);
		if (tid > 0)
			s->st->vcpus++;
	}
	if (dir)
		closedir(dir);
}

/* debugfs kvm/PID-FD/vcpuN/{pid,tsc-offset}: the vcpu number of each
 * thread and its TSC offset. */
static void vcpu_lines(struct session *s, const char *debugfs)
{
	char dir[512], vm[1024], prefix[32];
	struct dirent *d;
	DIR *kvm;

	snprintf(dir, sizeof(dir), "%.256s/kvm", debugfs);
	snprintf(prefix, sizeof(prefix), "%d-", s->o->pid);
	kvm = opendir(dir);
	while (kvm && (d = readdir(kvm)))
		if (!strncmp(d->d_name, prefix, strlen(prefix))) {
			snprintf(vm, sizeof(vm), "%s/%.64s", dir, d->d_name);
			vm_vcpus(s, vm);
		}
	if (kvm)
		closedir(kvm);
}

/*
 * Mounts debugfs just long enough to read the vcpu list.  A vcpu that has
 * not run yet shows thread 0, so a capture that starts with the guest is
 * asked again at its end (while the process lives).
 */
static void vcpu_info(struct session *s, bool last_try)
{
	char debugfs[256];

	if (find_mount("debugfs", debugfs, sizeof(debugfs))) {
		vcpu_lines(s, debugfs);
	} else if (private_mounts(s) &&
		   !mount("nodev", DEBUGFS_DEFAULT, "debugfs", 0, NULL)) {
		vcpu_lines(s, DEBUGFS_DEFAULT);
	} else if (s->private_ns < 0 &&
		   !mount("nodev", DEBUGFS_DEFAULT, "debugfs", 0, NULL)) {
		vcpu_lines(s, DEBUGFS_DEFAULT);
		if (umount(DEBUGFS_DEFAULT))
			say(s, "warning: could not unmount debugfs: %s",
			    strerror(errno));
	}
	if (!s->st->vcpus && last_try)
		say(s, "%s",
		    "no vcpu list in debugfs: the importer numbers vcpu "
		    "threads itself");
}

static void header(struct session *s)
{
	uint64_t hz = known_tsc_hz();

	fprintf(s->raw, "# dmsim-capture pid=%d clock=%s buffer_kb=%u",
		s->o->pid, s->st->clock,
		s->o->buffer_kb ? s->o->buffer_kb : DEFAULT_BUFFER_KB);
	if (hz && !strcmp(s->st->clock, "x86-tsc"))
		fprintf(s->raw, " tsc_hz=%" PRIu64, hz);
	fputc('\n', s->raw);
	vcpu_info(s, false);
}

static void clock_marker(struct session *s)
{
	char text[96];

	/* The wall clock dates the RTC, which QEMU starts from it. */
	snprintf(text, sizeof(text),
		 "dmsim-clock mono_raw_ns=%" PRIu64 " realtime_ns=%" PRIu64,
		 mono_raw_ns(), clock_ns(CLOCK_REALTIME));
	if (inst_write(s, "trace_marker", text))
		say(s, "warning: clock marker not written: %s", s->err->msg);
}

/* ---- streaming ------------------------------------------------------- */

static bool process_gone(int pid)
{
	char path[64], stat[512], *p;

	if (kill(pid, 0) && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, stat, sizeof(stat)))
		return true;
	p = strrchr(stat, ')');
	return p && (p[2] == 'Z' || p[2] == 'X');
}

/* Copies what trace_pipe has; returns bytes, 0 when empty, -1 on error. */
static ssize_t pump(struct session *s)
{
	char *buf = s->buf;
	ssize_t n = read(s->pipe_fd, buf, sizeof(s->buf));

	if (n < 0)
		return errno == EAGAIN || errno == EINTR
			       ? 0
			       : dm_errorf(s->err, "trace_pipe: %s",
					   strerror(errno));
	if (n > 0 && fwrite(buf, 1, (size_t)n, s->raw) != (size_t)n)
		return dm_errorf(s->err, "%s: %s", s->o->raw_path,
				 strerror(errno));
	s->st->bytes += (uint64_t)n;
	for (ssize_t i = 0; i < n; i++)
		s->st->lines += buf[i] == '\n';
	return n;
}

static int stream(struct session *s)
{
	uint64_t start = mono_raw_ns();
	uint64_t end = start + s->o->duration_ms * 1000000ULL;
	ssize_t n;

	for (;;) {
		if (stop_signal) {
			s->st->end = DM_CAPTURE_SIGNAL;
			return 0;
		}
		if (s->o->duration_ms && mono_raw_ns() >= end) {
			s->st->end = DM_CAPTURE_DURATION;
			return 0;
		}
		if (process_gone(s->o->pid)) {
			s->st->end = DM_CAPTURE_EXITED;
			return 0;
		}
		/* Sleep, not poll(): a reader woken by every event would
		 * preempt the traced vcpu threads, and each of those switches
		 * is itself an event (sched_switch), waking it again. */
		poll(NULL, 0, POLL_MS);
		do
			n = pump(s);
		while (n > 0);
		if (n < 0)
			return -1;
	}
}

/* After tracing stops: what the buffer still holds, then the counts of
 * what it could not hold. */
static int drain(struct session *s)
{
	char path[512], stats[2048], *p;
	ssize_t n;

	if (inst_write(s, "tracing_on", "0"))
		return -1;
	while ((n = pump(s)) > 0)
		;
	if (n < 0)
		return -1;
	for (int cpu = 0;; cpu++) {
		snprintf(path, sizeof(path), "%s/per_cpu/cpu%d/stats",
			 s->instance, cpu);
		if (read_file(path, stats, sizeof(stats)))
			break;
		if ((p = strstr(stats, "\noverrun: ")) ||
		    (p = strstr(stats, "overrun: ")))
			s->st->lost += strtoull(strchr(p, ':') + 1, NULL, 10);
		if ((p = strstr(stats, "dropped events: ")))
			s->st->lost += strtoull(strchr(p, ':') + 1, NULL, 10);
	}
	fprintf(s->raw, "# dmsim-lost %" PRIu64 "\n", s->st->lost);
	if (!s->st->vcpus)
		vcpu_info(s, true);
	return 0;
}

/* ---- tear-down: undo exactly what was done --------------------------- */

static void teardown(struct session *s)
{
	if (s->pipe_fd >= 0)
		close(s->pipe_fd);
	if (s->instance_made) {
		char path[512];

		snprintf(path, sizeof(path), "%s/tracing_on", s->instance);
		write_file(path, "0");
		snprintf(path, sizeof(path), "%s/events/enable", s->instance);
		write_file(path, "0");
		if (rmdir(s->instance))
			say(s,
			    "warning: could not remove the tracefs "
			    "instance (%s): rmdir it by hand",
			    strerror(errno));
	}
	if (s->tracefs_mounted && umount(s->tracefs))
		say(s, "warning: could not unmount tracefs: %s",
		    strerror(errno));
	if (s->sigs_set)
		for (int i = 0; i < 3; i++)
			sigaction(caught[i], &s->old[i], NULL);
}

static int capture(struct session *s)
{
	char path[512];

	catch_signals(s);
	if (mount_tracefs(s) || make_instance(s))
		return -1;
	if (inst_write(s, "tracing_on", "0") || choose_clock(s))
		return -1;
	snprintf(path, sizeof(path), "%u",
		 s->o->buffer_kb ? s->o->buffer_kb : DEFAULT_BUFFER_KB);
	if (inst_write(s, "buffer_size_kb", path) || filter_pids(s) ||
	    enable_events(s))
		return -1;
	snprintf(path, sizeof(path), "%s/trace_pipe", s->instance);
	s->pipe_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (s->pipe_fd < 0)
		return dm_errorf(s->err, "%s: %s", path, strerror(errno));
	header(s);
	if (inst_write(s, "tracing_on", "1"))
		return -1;
	clock_marker(s);
	if (s->o->log) {
		fprintf(s->o->log,
			"capture: tracing pid %d (%u threads, clock %s) into "
			"%s%s\n",
			s->o->pid, s->st->threads, s->st->clock, s->o->raw_path,
			s->o->duration_ms ? "" : "; Ctrl-C stops");
		fflush(s->o->log);
	}
	if (stream(s))
		return -1;
	clock_marker(s);
	return drain(s);
}

int dm_kvm_capture(const struct dm_capture_opts *o, struct dm_capture_stats *st,
		   struct dm_error *err)
{
	struct session *s = calloc(1, sizeof(*s));
	int rc;

	*st = (struct dm_capture_stats){0};
	if (!s)
		return dm_errorf(err, "out of memory");
	*s = (struct session){.o = o, .st = st, .err = err, .pipe_fd = -1};
	if (o->pid <= 0 || (kill(o->pid, 0) && errno == ESRCH)) {
		free(s);
		return dm_errorf(err, "no process %d", o->pid);
	}
	s->raw = fopen(o->raw_path, "we");
	if (!s->raw) {
		free(s);
		return dm_errorf(err, "%s: %s", o->raw_path, strerror(errno));
	}
	rc = capture(s);
	teardown(s);
	if (fclose(s->raw) && !rc)
		rc = dm_errorf(err, "%s: %s", o->raw_path, strerror(errno));
	free(s);
	return rc;
}
