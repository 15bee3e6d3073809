/*
 * kernel/kstack.c - kernel stacks with guard pages (see kstack.h). The slot
 * layout is fixed: slot i owns [KSTACK_BASE + i * 64 KiB, + 64 KiB), its
 * first page is never mapped, the stack sits right above it.
 */
#include "kstack.h"

#include "arch/x86_64/layout.h"
#include "arch/x86_64/trap.h"
#include "panic.h"
#include "pmm.h"
#include "printk.h"
#include "vmm.h"

static uint64_t used_slots;            /* bitmap, KSTACK_SLOTS bits */
static unsigned slot_pages[KSTACK_SLOTS];

static uint64_t slot_base(unsigned i) { return KSTACK_BASE + (uint64_t)i * KSTACK_SLOT_PAGES * PAGE_SIZE; }

bool kstack_alloc(unsigned npages, struct kstack *out)
{
	if (npages == 0 || npages >= KSTACK_SLOT_PAGES)
		return false;
	unsigned i;
	for (i = 0; i < KSTACK_SLOTS && (used_slots >> i & 1); i++)
		;
	if (i == KSTACK_SLOTS)
		return false;
	uint64_t guard = slot_base(i), bottom = guard + PAGE_SIZE;
	unsigned done;
	for (done = 0; done < npages; done++) {
		uint64_t pa = pmm_alloc_zeroed(0);
		if (!pa || vmm_map(bottom + done * PAGE_SIZE, pa, 1, VMM_WRITE)) {
			if (pa)
				pmm_free(pa, 0);
			break;
		}
	}
	if (done < npages) {            /* out of frames: give back what we took */
		while (done--) {
			struct vmm_translation t;
			vmm_translate(bottom + done * PAGE_SIZE, &t);
			vmm_unmap(bottom + done * PAGE_SIZE, 1);
			pmm_free(t.pa, 0);
		}
		return false;
	}
	used_slots |= 1ULL << i;
	slot_pages[i] = npages;
	*out = (struct kstack){ guard, bottom, bottom + npages * PAGE_SIZE, i };
	return true;
}

void kstack_free(const struct kstack *s)
{
	if (s->slot >= KSTACK_SLOTS || !(used_slots >> s->slot & 1) || s->guard != slot_base(s->slot))
		panic("kstack_free: 0x%lx is not a live kernel stack", s->bottom);
	/*
	 * The bounds must be the ones kstack_alloc gave: a top past them would
	 * unmap the next slot's stack, one short of them leak frames.
	 */
	uint64_t bottom = s->guard + PAGE_SIZE, top = bottom + (uint64_t)slot_pages[s->slot] * PAGE_SIZE;
	if (s->bottom != bottom || s->top != top)
		panic("kstack_free: stack %u is [0x%lx, 0x%lx), not [0x%lx, 0x%lx) (a damaged struct kstack?)", s->slot,
		      bottom, top, s->bottom, s->top);
	for (uint64_t va = s->bottom; va < s->top; va += PAGE_SIZE) {
		struct vmm_translation t;
		if (vmm_translate(va, &t))
			panic("kstack_free: stack page 0x%lx is not mapped", va);
		vmm_unmap(va, 1);
		pmm_free(t.pa & ~(PAGE_SIZE - 1), 0);
	}
	used_slots &= ~(1ULL << s->slot);
}

uint64_t kstack_call(const struct kstack *s, uint64_t (*fn)(uint64_t), uint64_t arg)
{
	uint64_t ret;
	/* Save the old RSP on the new stack, call, restore. RBP chains across for backtraces. */
	__asm__ volatile("movq %%rsp, %%rbx\n\t"
			 "movq %[top], %%rsp\n\t"
			 "pushq %%rbx\n\t"
			 "subq $8, %%rsp\n\t"
			 "movq %[arg], %%rdi\n\t"
			 "callq *%[fn]\n\t"
			 "addq $8, %%rsp\n\t"
			 "popq %%rsp"
			 : "=a"(ret)
			 : [top] "r"(s->top), [arg] "r"(arg), [fn] "r"(fn)
			 : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
	return ret;
}

int kstack_contains(uint64_t p)
{
	if (p < KSTACK_BASE || p >= slot_base(KSTACK_SLOTS))
		return 0;
	unsigned i = (unsigned)((p - KSTACK_BASE) / (KSTACK_SLOT_PAGES * PAGE_SIZE));
	uint64_t bottom = slot_base(i) + PAGE_SIZE;
	return (used_slots >> i & 1) && p >= bottom && p < bottom + slot_pages[i] * PAGE_SIZE;
}

bool kstack_describe(uint64_t va, char *buf, size_t size)
{
	if (va < KSTACK_BASE || va >= KSTACK_BASE + KSTACK_SIZE_AREA)
		return false;
	if (va >= slot_base(KSTACK_SLOTS)) {
		snprintf(buf, size, "the kernel-stack window, beyond the last stack slot");
		return true;
	}
	unsigned i = (unsigned)((va - KSTACK_BASE) / (KSTACK_SLOT_PAGES * PAGE_SIZE));
	uint64_t off = va - slot_base(i);
	if (!(used_slots >> i & 1))
		snprintf(buf, size, "kernel stack slot %u, which holds no stack now", i);
	else if (off < PAGE_SIZE)
		snprintf(buf, size, "the guard page of kernel stack %u (below its bottom 0x%lx): a stack overflow?", i,
			 slot_base(i) + PAGE_SIZE);
	else if (off < (1 + slot_pages[i]) * PAGE_SIZE)
		snprintf(buf, size, "kernel stack %u, %lu bytes below its top", i,
			 slot_base(i) + (1 + slot_pages[i]) * PAGE_SIZE - va);
	else
		snprintf(buf, size, "kernel stack slot %u, above its top (unmapped)", i);
	return true;
}
