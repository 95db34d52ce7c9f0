/*
 * vm_refcnt.pml - the per-VMA lock protocol (vm_refcnt, the reader-exclusion
 * flag, the writer's wait) as a Promela model for spin.
 *
 * refcnt is vm_refcnt: its values mean what the comment on that field in
 * struct vm_area_struct says (include/linux/mm_types.h, added by patch 11
 * of patches/), the one place they are described; docs/design.md has the
 * rest of the design. The count is scaled down: F (VMA_LOCK_OFFSET) = 8,
 * LIMIT = F - 1 (VMA_REF_LIMIT), so the reader limit is reachable.
 *
 * NREADERS readers each try the read lock a few times; one writer (holding
 * "mmap_lock") write-locks the VMA, then detaches it, and the object is
 * reused: attached again, as a new VMA of another mm (gen counts the
 * incarnations; a reader that took a reference must check it).
 *
 * Properties (assertions; spin also reports invalid end states, i.e. a
 * process blocked forever, such as a writer waiting with no reader left):
 *   P1 no reader is inside the read section while the writer is past its
 *      wait for readers (writer_cs);
 *   P2 no reader succeeds on a detached VMA, or on the VMA of another
 *      incarnation than the one it looked up;
 *   P3 when everything is done, the count is at rest: 0 (detached) or 1.
 *
 * -DBROKEN_READER: readers increment without the limit (they ignore the
 * exclusion flag). spin must find a violation of P1.
 * -DBROKEN_WAKE: the last reader does not wake the writer. spin must find
 * the writer blocked forever (an invalid end state).
 */
#define NREADERS 2
#define TRIES    2
#define F        8
#define LIMIT    (F - 1)

int  refcnt = 1;          /* attached, no readers */
byte vm_lock_seq = 255;   /* not write-locked */
byte mm_lock_seq = 0;     /* even: mmap_lock not write-held */
byte gen = 0;             /* incarnation of the VMA memory */
bool writer_cs = false;   /* writer past its wait, readers excluded */
byte in_read = 0;         /* readers inside the read section */
byte done = 0;
bool woken = false;        /* the rcuwait: a wake-up is pending */

/* reader's put: decrement, wake the writer when only it is left */
inline put() {
	d_step {
		refcnt--;
		assert(refcnt >= 0);
#ifndef BROKEN_WAKE
		if
		:: refcnt == F || refcnt == F + 1 -> woken = true
		:: else -> skip
		fi
#endif
	}
}

proctype reader() {
	byte t = 0, seen_gen;
	do
	:: t < TRIES ->
		t++;
		seen_gen = gen;             /* the RCU walk found this incarnation */
		if
		:: vm_lock_seq == mm_lock_seq -> skip   /* early bail-out */
		:: else ->
			bool got = false;
#ifdef BROKEN_READER
			atomic { if :: refcnt != 0 -> refcnt++; got = true :: else -> skip fi }
#else
			atomic { if :: refcnt != 0 && refcnt + 1 <= LIMIT -> refcnt++; got = true
				     :: else -> skip fi }
#endif
			if
			:: got ->
				if
				:: gen != seen_gen -> put()           /* reused: retry */
				:: gen == seen_gen && vm_lock_seq == mm_lock_seq -> put()
				:: gen == seen_gen && vm_lock_seq != mm_lock_seq ->
					/* read section */
					atomic { in_read++; assert(!writer_cs); assert(refcnt > 0) }
					atomic { assert(!writer_cs); in_read-- }
					put()
				fi
			:: else -> skip
			fi
		fi
	:: else -> break
	od;
	atomic { done++ }
}

/* exclude readers: add F unless detached, wait until only target is left */
inline exclude(target, excluded) {
	atomic {
		if
		:: refcnt != 0 -> assert(refcnt < F); refcnt = refcnt + F; excluded = true
		:: else -> excluded = false
		fi
	}
	if
	:: excluded ->
		/* rcuwait_wait_event(): check, sleep until woken, check again */
		do
		:: atomic { refcnt == target -> break }
		:: atomic { refcnt != target -> skip }; (woken); woken = false
		od
	:: else -> skip
	fi
}

proctype writer() {
	bool excluded;
	/* mmap_write_lock(): the sequence becomes odd */
	mm_lock_seq++;
	/* vma_start_write() */
	exclude(F + 1, excluded);
	atomic { writer_cs = true; assert(in_read == 0) }
	vm_lock_seq = mm_lock_seq;
	writer_cs = false;
	if :: excluded -> refcnt = refcnt - F :: else -> skip fi;
	/* vma_mark_detached(): drop the tree's reference, wait for probers */
	atomic { refcnt--; excluded = (refcnt != 0) }
	if
	:: excluded ->
		exclude(F, excluded);
		atomic { assert(in_read == 0); if :: excluded -> refcnt = refcnt - F :: else -> skip fi }
	:: else -> skip
	fi;
	assert(refcnt == 0);
	/* freed and reused: a new incarnation, initialised, then attached */
	gen++;
	vm_lock_seq = 255;
	refcnt = 1;                        /* vma_mark_attached(), RELEASE */
	/* mmap_write_unlock(): ends every VMA write lock */
	mm_lock_seq++;
	atomic { done++ }
}

init {
	byte i;
	atomic {
		for (i : 1 .. NREADERS) { run reader() }
		run writer()
	}
	(done == NREADERS + 1);
	assert(refcnt == 0 || refcnt == 1);    /* P3 */
}
