// SPDX-License-Identifier: MIT
/*
 * kvmrun IMAGE [--timeout S] [--wait]: runs a flat guest image (mkprobe's)
 * on one KVM vcpu with KVM's in-kernel irqchip (LAPIC, IOAPIC, 8259 pair)
 * and PIT, the way QEMU sets them up, so that `dmsim kvm capture` can
 * record what KVM's own devices answer.
 *
 * The image is loaded at 0x1000 and entered in real mode at 0000:1000.
 * Devices KVM does not emulate are served here, as a VMM would: a write to
 * port 0xf4 ends the run (exit status = the value written), a write to
 * port 0xf5 reports a guest exception (exit 3), a write to port 0xf6
 * pulses GSI 5 (raise, lower, and a second, no-op lower), a write to port
 * 0xf7 sends an MSI for vector 0x50 to APIC 0, and the HPET capability
 * register reads as QEMU's; other port and MMIO reads float high and
 * writes are dropped.  With --wait the vcpu starts only on SIGUSR1, so a
 * capture can attach first; the process id is printed on stdout either
 * way.  --timeout ends a run that has not finished (exit 4).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE (2u << 20)
#define LOAD_ADDR 0x1000u
#define PORT_DONE 0xf4
#define PORT_FAULT 0xf5
#define PORT_PULSE 0xf6
#define PORT_MSI 0xf7
#define PULSE_GSI 5
#define MSI_VECTOR 0x50
#define HPET_BASE 0xfed00000u

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "kvmrun: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(fd, req, arg);

	if (r < 0)
		die(what);
	return r;
}

/*
 * QEMU's routing (hw/i386/kvm/ioapic.c, kvm_pc_setup_irq_routing): ISA
 * IRQs 0-15 reach the 8259 pin of the same number except the cascade,
 * and IOAPIC pins 1-23 except 2; IRQ0 reaches IOAPIC pin 2, the MADT
 * interrupt source override.  KVM's default table would send IRQ0 to
 * pin 0, which no PC does.
 */
static void set_routing(int vm)
{
	struct {
		struct kvm_irq_routing r;
		struct kvm_irq_routing_entry e[40];
	} t;
	unsigned n = 0;

	memset(&t, 0, sizeof(t));
	for (unsigned gsi = 0; gsi < 16; gsi++) {
		if (gsi == 2)
			continue;
		t.e[n].gsi = gsi;
		t.e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		t.e[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
						   : KVM_IRQCHIP_PIC_SLAVE;
		t.e[n++].u.irqchip.pin = gsi % 8;
	}
	for (unsigned gsi = 0; gsi < 24; gsi++) {
		if (gsi == 2)
			continue;
		t.e[n].gsi = gsi;
		t.e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		t.e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		t.e[n++].u.irqchip.pin = gsi ? gsi : 2;
	}
	t.r.nr = n;
	xioctl(vm, KVM_SET_GSI_ROUTING, &t, "KVM_SET_GSI_ROUTING");
}

static void set_cpuid(int kvm, int vcpu)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[128];
	} t;

	memset(&t, 0, sizeof(t));
	t.c.nent = 128;
	xioctl(kvm, KVM_GET_SUPPORTED_CPUID, &t, "KVM_GET_SUPPORTED_CPUID");
	xioctl(vcpu, KVM_SET_CPUID2, &t, "KVM_SET_CPUID2");
}

static void load_image(const char *path, uint8_t *mem)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		die(path);
	n = fread(mem + LOAD_ADDR, 1, MEM_SIZE - LOAD_ADDR, f);
	if (ferror(f) || n == 0) {
		fprintf(stderr, "kvmrun: %s: empty or unreadable\n", path);
		exit(1);
	}
	fclose(f);
}

static void real_mode_start(int vcpu)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	xioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	xioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = LOAD_ADDR;
	regs.rflags = 2;
	xioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

/* A device of the VMM pulses its line, then lowers it once more (a no-op
 * lower, as QEMU's devices often send). */
static void pulse(int vm)
{
	static const int levels[] = {1, 0, 0};

	for (int i = 0; i < 3; i++) {
		struct kvm_irq_level l = {.irq = PULSE_GSI,
					  .level = (uint32_t)levels[i]};

		xioctl(vm, KVM_IRQ_LINE, &l, "KVM_IRQ_LINE");
	}
}

static void send_msi(int vm)
{
	struct kvm_msi msi = {.address_lo = 0xfee00000u, .data = MSI_VECTOR};

	xioctl(vm, KVM_SIGNAL_MSI, &msi, "KVM_SIGNAL_MSI");
}

/*
 * MMIO KVM sends to userspace.  The HPET's capability register answers as
 * QEMU's hpet.c does (vendor 8086, legacy route and 64-bit counter
 * capable, 3 timers, revision 1, a 10 ns period), so that a read served
 * from userspace can be checked against dmsim's HPET; the rest floats.
 */
static void serve_mmio(struct kvm_run *run)
{
	static const uint32_t hpet_cap[2] = {0x8086a201u, 10000000u};
	uint64_t off = run->mmio.phys_addr - HPET_BASE;

	if (run->mmio.is_write)
		return;
	memset(run->mmio.data, 0xff, run->mmio.len);
	if (off < 8 && !(off & 3) && run->mmio.len == 4)
		memcpy(run->mmio.data, &hpet_cap[off / 4], 4);
}

/* Port accesses KVM sends to userspace.  Returns -1 to go on, else the
 * exit status. */
static int serve_io(int vm, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	size_t len = (size_t)run->io.size * run->io.count;

	if (run->io.direction == KVM_EXIT_IO_IN) {
		memset(data, 0xff, len);
		return -1;
	}
	if (run->io.port == PORT_DONE)
		return data[0];
	if (run->io.port == PORT_PULSE)
		pulse(vm);
	if (run->io.port == PORT_MSI)
		send_msi(vm);
	if (run->io.port == PORT_FAULT) {
		fprintf(stderr, "kvmrun: guest exception %u\n", data[0]);
		return 3;
	}
	return -1;
}

static int run_vcpu(int vm, int vcpu, struct kvm_run *run)
{
	for (;;) {
		int rc;

		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR && timed_out) {
				fprintf(stderr, "kvmrun: timed out\n");
				return 4;
			}
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN");
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			rc = serve_io(vm, run);
			if (rc >= 0)
				return rc;
			break;
		case KVM_EXIT_MMIO:
			serve_mmio(run);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			fprintf(stderr,
				"kvmrun: KVM internal error, suberror %u\n",
				run->internal.suberror);
			return 1;
		default:
			fprintf(stderr, "kvmrun: unexpected exit reason %u\n",
				run->exit_reason);
			return 1;
		}
	}
}

static void wait_for_start(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigwait(&set, &sig);
}

int main(int argc, char **argv)
{
	struct kvm_pit_config pit = {.flags = 0};
	struct kvm_userspace_memory_region region;
	const char *image = NULL;
	unsigned timeout = 0;
	bool wait = false;
	struct kvm_run *run;
	struct sigaction sa;
	sigset_t usr1;
	int kvm, vm, vcpu;
	uint8_t *mem;
	long mmap_size;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--wait"))
			wait = true;
		else if (argv[i][0] != '-' && !image)
			image = argv[i];
		else {
			fputs("usage: kvmrun IMAGE [--timeout S] [--wait]\n",
			      stderr);
			return 2;
		}
	}
	if (!image) {
		fputs("usage: kvmrun IMAGE [--timeout S] [--wait]\n", stderr);
		return 2;
	}
	/* SIGUSR1 stays blocked until sigwait takes it. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	vm = xioctl(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap guest memory");
	load_image(image, mem);
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	xioctl(vm, KVM_SET_USER_MEMORY_REGION, &region,
	       "KVM_SET_USER_MEMORY_REGION");
	xioctl(vm, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
	set_routing(vm);
	xioctl(vm, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
	vcpu = xioctl(vm, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
	set_cpuid(kvm, vcpu);
	mmap_size = xioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0,
			   "KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");
	real_mode_start(vcpu);

	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (wait)
		wait_for_start();
	if (timeout)
		alarm(timeout);
	return run_vcpu(vm, vcpu, run);
}
