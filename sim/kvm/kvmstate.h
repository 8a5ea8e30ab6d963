/* SPDX-License-Identifier: MIT */
/*
 * KVM's in-kernel device state and dmsim's, converted both ways, so that
 * `dmsim diff` compares KVM's devices with dmsim's field by field.
 *
 * The structs are linux/kvm.h's: struct kvm_pit_state2 (KVM_GET_PIT2),
 * struct kvm_irqchip with chip_id KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE or
 * _IOAPIC (KVM_GET_IRQCHIP) and struct kvm_lapic_state per vcpu
 * (KVM_GET_LAPIC).  Only a machine built with profile=kvm (and the kvm
 * flavour of the device) converts; any other machine is refused with an
 * error naming the option.  docs/kvm-state.md maps every field and lists
 * what neither side can represent.
 *
 * Time.  now_ns is the virtual time of the snapshot.  The to-KVM functions
 * read a const machine, so the caller first runs it to now_ns
 * (dm_machine_advance); they refuse a machine with events still due at or
 * before now_ns.  The from-KVM functions advance the machine to now_ns
 * themselves.  KVM stamps PIT count loads with host ktime (CLOCK_MONOTONIC
 * ns); the caller's offset relates the two clocks:
 *
 *	host_ns = virtual_ns + host_offset_ns
 *
 * From-KVM.  Every KVM field that dmsim represents replaces the dmsim
 * field; dmsim fields KVM has no counterpart for keep the machine's
 * values (so converting into a fresh machine leaves them at power-on);
 * derived state (LAPIC timer expiry, PIT counter-0 timer, 8259 INT level)
 * is recomputed as KVM's KVM_SET_* ioctl would.  Values dmsim cannot hold,
 * or that KVM never produces, are refused with a message naming the KVM
 * field ("channels[1].read_state", "regs[0x320] (LVTT)"); the device is
 * then left untouched.  The result always passes the dmsim state table's
 * validation (it is loaded through dm_state_load).
 */
#ifndef DM_KVM_KVMSTATE_H
#define DM_KVM_KVMSTATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/error.h"
#include "sim/machine.h"

/* 8254: struct kvm_pit_state2 <-> device "pit". */
int dm_kvm_pit_to(const struct dm_machine *m, uint64_t now_ns,
		  int64_t host_offset_ns, struct kvm_pit_state2 *ps,
		  struct dm_error *err);
int dm_kvm_pit_from(struct dm_machine *m, uint64_t now_ns,
		    int64_t host_offset_ns, const struct kvm_pit_state2 *ps,
		    struct dm_error *err);

/*
 * 8259 master, slave (device "pic", chip0 and chip1) and IOAPIC (device
 * "ioapic").  As with KVM_GET_IRQCHIP, the caller sets chip->chip_id and
 * dm_kvm_irqchip_to fills the rest.
 */
int dm_kvm_irqchip_to(const struct dm_machine *m, uint64_t now_ns,
		      struct kvm_irqchip *chip, struct dm_error *err);
int dm_kvm_irqchip_from(struct dm_machine *m, uint64_t now_ns,
			const struct kvm_irqchip *chip, struct dm_error *err);

/*
 * The LAPIC of vcpu (device "lapicN").  The register page is read in the
 * mode the dmsim LAPIC's IA32_APIC_BASE gives (not part of the struct:
 * KVM keeps it in the vcpu, KVM_GET_SREGS apic_base); x2APIC IDs are in
 * KVM's default layout, without KVM_CAP_X2APIC_API.
 */
int dm_kvm_lapic_to(const struct dm_machine *m, uint64_t now_ns, uint32_t vcpu,
		    struct kvm_lapic_state *s, struct dm_error *err);
int dm_kvm_lapic_from(struct dm_machine *m, uint64_t now_ns, uint32_t vcpu,
		      const struct kvm_lapic_state *s, struct dm_error *err);

/*
 * A KVM state dump: what the KVM_GET_* ioctls of one VM returned at one
 * instant, plus the clocks.  docs/kvm-state.md specifies the file format
 * ("DMKVM\0", version 1).
 */
#define DM_KVM_DUMP_CHIPS 3 /* indexed by chip_id */

struct dm_kvm_vcpu_dump {
	bool present;
	uint64_t apic_base; /* IA32_APIC_BASE; 0 = not recorded */
	struct kvm_lapic_state lapic;
};

struct dm_kvm_dump {
	uint64_t now_ns;	/* virtual time of the snapshot */
	int64_t host_offset_ns; /* host_ns = virtual_ns + host_offset_ns */
	bool has_pit;
	struct kvm_pit_state2 pit;
	bool has_chip[DM_KVM_DUMP_CHIPS];
	struct kvm_irqchip chip[DM_KVM_DUMP_CHIPS];
	uint32_t vcpus;		       /* 1..DM_MAX_VCPUS */
	struct dm_kvm_vcpu_dump *vcpu; /* vcpus entries (malloc'd) */
};

/* Converts every device of a kvm-profile machine (allocates d->vcpu). */
int dm_kvm_dump_capture(const struct dm_machine *m, uint64_t now_ns,
			int64_t host_offset_ns, struct dm_kvm_dump *d,
			struct dm_error *err);
void dm_kvm_dump_free(struct dm_kvm_dump *d);

int dm_kvm_dump_write(const char *path, const struct dm_kvm_dump *d,
		      struct dm_error *err);
/* Reads and checks a dump file (allocates d->vcpu). */
int dm_kvm_dump_read(const char *path, struct dm_kvm_dump *d,
		     struct dm_error *err);
/* Whether a file starts like a KVM state dump (for `dmsim diff`). */
bool dm_kvm_dump_sniff(const void *head, size_t len);

/*
 * Builds a profile=kvm machine with the dump's vcpus (lapic_lvts and
 * lapic_directed_eoi from the LAPIC version register), runs it to the
 * dump's now_ns and converts every device the dump holds into it.
 * present (DM_MAX_DEVICES entries, indexed like m->devices) tells which
 * devices the dump covers; the others are at power-on.  On error nothing
 * is returned in *out.
 */
int dm_kvm_dump_apply(const struct dm_kvm_dump *d, struct dm_machine **out,
		      bool *present, struct dm_error *err);
int dm_kvm_dump_load(const char *path, struct dm_machine **out, bool *present,
		     struct dm_error *err);

#endif
