//! The provided buffers of a relay ring: a ring of buffer descriptions the kernel takes
//! from when a multishot receive has a datagram, and the buffers themselves, both in
//! anonymous mappings (page-aligned, never moved). A buffer taken by the kernel comes back
//! with its completion; we give it back with [`BufRing::give`] once done with it (after its
//! relayed copy was sent), and the kernel sees it after [`BufRing::commit`].

use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::IoUring;
use io_uring::types::BufRingEntry;

/// An anonymous private mapping, unmapped on drop.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped; the owner guarantees nobody uses it.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Provided buffers of one group of one ring.
pub struct BufRing {
    entries: Mapping,
    bufs: Mapping,
    count: u16,
    buf_len: usize,
    /// Our tail: entries before it are the kernel's to take.
    tail: u16,
    group: u16,
}

impl BufRing {
    /// `count` (a power of two, at most 32,768) buffers of `buf_len` bytes, registered with
    /// `ring` as group `group` and all given to the kernel.
    pub fn new(ring: &IoUring, group: u16, count: u16, buf_len: usize) -> io::Result<BufRing> {
        if !count.is_power_of_two() || count > 32768 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let entries = Mapping::new(usize::from(count) * size_of::<BufRingEntry>())?;
        let bufs = Mapping::new(usize::from(count) * buf_len)?;
        // SAFETY: the entries mapping is page-aligned, `count` entries long, zeroed (so its
        // tail is 0) and lives as long as this BufRing, which the caller drops only after
        // the ring stopped using it (see `Ring`).
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(entries.ptr as u64, count, group, 0)?
        };
        let mut b = BufRing {
            entries,
            bufs,
            count,
            buf_len,
            tail: 0,
            group,
        };
        for bid in 0..count {
            b.give(bid);
        }
        b.commit();
        Ok(b)
    }

    /// The group id to name in receive requests.
    pub fn group(&self) -> u16 {
        self.group
    }

    /// Buffer `bid`'s bytes; empty for an id that is not ours.
    pub fn buf(&mut self, bid: u16) -> &mut [u8] {
        if bid >= self.count {
            return &mut [];
        }
        // SAFETY: buffer `bid` lies inside the mapping; the kernel wrote it before posting
        // the completion that handed it to us, and does not touch it until we give it back.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.bufs.ptr.add(usize::from(bid) * self.buf_len),
                self.buf_len,
            )
        }
    }

    /// Queues buffer `bid` for the kernel (seen after the next `commit`).
    pub fn give(&mut self, bid: u16) {
        if bid >= self.count {
            return;
        }
        let index = usize::from(self.tail & (self.count - 1));
        // SAFETY: `index` < count, inside the entries mapping; the kernel reads only entries
        // before the committed tail, and this one is past it.
        let entry = unsafe { &mut *self.entries.ptr.cast::<BufRingEntry>().add(index) };
        // SAFETY: in bounds of the buffers mapping, as in `buf`.
        let addr = unsafe { self.bufs.ptr.add(usize::from(bid) * self.buf_len) };
        entry.set_addr(addr as u64);
        entry.set_len(self.buf_len as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publishes the buffers given since the last commit.
    pub fn commit(&self) {
        // SAFETY: the tail field overlays the first entry's reserved field, inside the
        // mapping and suitably aligned for a u16; the kernel only reads it.
        let tail = unsafe {
            &*BufRingEntry::tail(self.entries.ptr.cast::<BufRingEntry>()).cast::<AtomicU16>()
        };
        tail.store(self.tail, Ordering::Release);
    }
}
