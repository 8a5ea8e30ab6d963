/* SPDX-License-Identifier: MIT */
/*
 * The cascaded Intel 8259A pair of the PC (master at 0x20, slave at 0xA0 on
 * master IR2) with the PIIX/ICH edge/level control registers (ELCR, 0x4D0).
 *
 * Three flavours (config option "pic"), selected per machine:
 * - datasheet: the 8259A data sheet with the PIIX ELCR.  An edge request
 *   is withdrawn when its line drops before INTA; LTIM, SNGL, ICW3, 8080
 *   mode and special mask mode are honoured.
 * - kvm: Linux arch/x86/kvm/i8259.c.
 * - qemu: QEMU hw/intc/i8259.c.
 * docs/devices/pic.md lists every difference and the option behind it.
 *
 * Wiring the machine provides:
 * - Port regions (sim/io.h handlers, opaque = struct dm_pic *):
 *   0x20 len 2 -> dm_pic_master_read/write, 0xA0 len 2 ->
 *   dm_pic_slave_read/write, 0x4D0 len 2 -> dm_pic_elcr_read/write.
 * - Inputs: dm_pic_set_irq is a dm_irq_fn (opaque = the pic, pin = ISA IRQ
 *   0-15; pin 2 is the internal cascade and is ignored).
 * - p->intr: the master's INT pin (PC: LINT0 of the BSP, ExtINT), driven
 *   on every change of its level.
 * - p->acked: told the IRQ (0-15) whose in-service bit an EOI or AEOI
 *   cleared (KVM's PIT reinject listens for IRQ0).  Called after the PIC's
 *   state is settled, so it may call dm_pic_set_irq.
 * - The CPU's interrupt acknowledge: dm_pic_intack when the vcpu takes the
 *   ExtINT.
 */
#ifndef DM_PIC_H
#define DM_PIC_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/config.h"
#include "sim/irq.h"
#include "sim/state.h"

#define DM_PIC_MASTER_BASE 0x20
#define DM_PIC_SLAVE_BASE 0xA0
#define DM_PIC_ELCR_BASE 0x4D0
#define DM_PIC_REGION_LEN 2

/*
 * One 8259A.  Each field maps to one of KVM's struct kvm_pic_state (named
 * in parentheses where the name differs), so KVM_GET_IRQCHIP dumps
 * convert field by field; sngl, adi, ltim, call_addr, icw3 and upm are
 * datasheet-only and KVM has no counterpart.
 */
struct dm_pic_chip {
	uint8_t irr;	     /* interrupt request register */
	uint8_t isr;	     /* in-service register */
	uint8_t imr;	     /* interrupt mask register (OCW1) */
	uint8_t line;	     /* input levels as last driven: the edge detector
			      * (KVM/QEMU last_irr, which their ICW1 forgets) */
	uint8_t elcr;	     /* 1 = level-triggered input (PIIX ELCR) */
	uint8_t vector_base; /* ICW2 & 0xF8 (KVM irq_base) */
	uint8_t highest;     /* IR with the highest priority: lowest + 1
			      * (KVM priority_add) */
	uint8_t init_step;   /* 0 ready, else the ICW the next 0x21 write
			      * is: 1 ICW2, 2 ICW3, 3 ICW4 (init_state) */
	/* ICW1 */
	bool ic4;	   /* ICW4 follows (init4) */
	bool sngl;	   /* single: no ICW3, no cascade */
	bool adi;	   /* 8080 CALL address interval 4 (else 8) */
	bool ltim;	   /* all inputs level-triggered */
	uint8_t call_addr; /* 8080 CALL address bits A7-A5 (ICW1 7:5) */
	uint8_t icw3;	   /* master: slave bitmap; slave: its ID */
	/* ICW4 */
	bool upm;  /* 8086 mode (0: 8080/8085 CALL sequence) */
	bool aeoi; /* automatic EOI (auto_eoi) */
	bool sfnm; /* special fully nested mode (special_fully_nested_mode) */
	/* OCW2 and OCW3 */
	bool rotate_aeoi; /* rotate in AEOI mode (rotate_on_auto_eoi) */
	bool smm;	  /* special mask mode (special_mask) */
	bool read_isr;	  /* port 0 reads the ISR, else the IRR
			   * (read_reg_select) */
	bool poll;	  /* the next read is a poll */
};

/* kvm: whether some vcpu takes the 8259's interrupts now (KVM's
 * kvm_apic_accept_pic_intr over the vcpus); unwired, one does. */
struct dm_pic_taker {
	bool (*takes)(void *opaque);
	void *opaque;
};

struct dm_pic {
	/* Migratable state (dm_pic_state_desc). */
	struct dm_pic_chip chip[2]; /* 0 master, 1 slave */
	bool intr;		    /* master INT level as last driven */

	/* Wiring and configuration (not state). */
	struct dm_irq_line intr_line;
	struct dm_irq_ack acked;
	struct dm_irq_mask mask; /* OCW1 changed IMR bits, IRQ 0-15 */
	struct dm_pic_taker taker;
	uint32_t flavor; /* enum dm_pic_flavor */
	uint16_t acks;	 /* IRQs acknowledged during the current entry
			  * point, reported to acked on its way out */
};

extern const struct dm_state_desc dm_pic_state_desc;

/* Power-on state with intr and acked unwired (docs/devices/pic.md). */
void dm_pic_init(struct dm_pic *p, const struct dm_config *cfg);

/* Machine reset: back to the power-on state, INT driven low. */
void dm_pic_reset(struct dm_pic *p, uint64_t now);

/* An ISA IRQ line (0-15) changed level; a dm_irq_fn. */
void dm_pic_set_irq(void *opaque, uint64_t now, unsigned irq, int level);

/*
 * The CPU's two INTA pulses: acknowledges the highest-priority request
 * through the cascade and returns the byte on the bus in the second pulse
 * (the vector; spurious requests give IR7 of the chip that found nothing).
 */
int dm_pic_intack(struct dm_pic *p, uint64_t now);

/* Level of the master's INT pin (what LINT0 sees); reads nothing. */
int dm_pic_pending(const struct dm_pic *p);

/*
 * The IR that chip idx (0 master, 1 slave) presents on its INT under p's
 * flavour, or -1; reads the registers only (no cascade update).  For
 * conversions that set the registers directly (sim/kvm/kvmstate.c).
 */
int dm_pic_request(const struct dm_pic *p, unsigned idx);

/* Port handlers; offset relative to the region base, size 1, 2, 4 or 8. */
uint64_t dm_pic_master_read(void *opaque, uint64_t now, uint64_t offset,
			    unsigned size);
void dm_pic_master_write(void *opaque, uint64_t now, uint64_t offset,
			 unsigned size, uint64_t value);
uint64_t dm_pic_slave_read(void *opaque, uint64_t now, uint64_t offset,
			   unsigned size);
void dm_pic_slave_write(void *opaque, uint64_t now, uint64_t offset,
			unsigned size, uint64_t value);
uint64_t dm_pic_elcr_read(void *opaque, uint64_t now, uint64_t offset,
			  unsigned size);
void dm_pic_elcr_write(void *opaque, uint64_t now, uint64_t offset,
		       unsigned size, uint64_t value);

#endif
