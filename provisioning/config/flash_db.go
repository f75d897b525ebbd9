package config

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FlashDB keeps the flashes of a whole fleet in one bbolt database file: what a fleet of
// thousands of phones saves in the same instant is written in one transaction, with one pair of
// syncs for all of them (group commit), where one file per phone costs a temporary file, a
// rename and two syncs each (BenchmarkFlashCommit measures both: on the 2-core test machine a
// file save costs about 0.5-1 ms of CPU in system calls, a save in the database a few
// microseconds plus its share of the transaction).
//
// Each flash is one key of the "flash" bucket holding the very document flash.json would
// hold ([EncodeFlash]), so `spa900 flash show` prints it as a user would read it; the boot
// count is a key of its own in the "boots" bucket, so that counting a boot writes eight
// bytes, not the flash. A change is acknowledged only when the transaction holding it is
// durable (bbolt syncs the data, then the meta page), so a kill -9 or a power cut at any
// instant leaves every flash as it was acknowledged last, or newer.
//
// One process at a time opens a database (bbolt locks the file), and every write of it goes
// through its FlashDB: so what the writer made durable is what the file holds, and a Load
// of a flash the process read or wrote before is answered from memory ([flashCache]),
// without a read transaction or a JSON decode (every boot of a fleet's phones loads its
// flash; a storm boots them all at once).
//
// The zero value is not usable; open one with [OpenFlashDB]. It is safe for concurrent use.
type FlashDB struct {
	// Immutable after OpenFlashDB.
	db   *bolt.DB
	path string
	kick chan struct{} // wakes the writer; capacity 1
	done chan struct{} // closed when the writer has ended

	// fresh says the database held no flash when it was opened: a key the cache has no
	// entry for was never written (a fleet's first start reads nothing).
	fresh bool

	mu      sync.Mutex
	pending map[string]*dbWrite    // guarded by mu: what the next transaction writes
	cache   map[string]*flashCache // guarded by mu: what the file holds for a key, when known
	closed  bool                   // guarded by mu
}

// dbWrite is what the next transaction writes for one key: its latest document and boot
// count, and whom to tell.
type dbWrite struct {
	doc     []byte // nil: the document is not written
	fl      *Flash // what doc decodes to (a copy of the caller's); nil with doc: not known
	boots   int    // 0: the boot count is not written
	waiters []func(error)
}

// flashCache is what the database holds for one key, as far as this process knows: the
// document decoded (nil: none) and the boot count key (0: none), once known is set. It is
// learnt from a Load's read transaction, or from a transaction of the writer that wrote both
// the document and the boot count, and kept up to date by every later write of the key. ver
// counts the changes of the key's entry, so that a Load whose read began before a write
// does not store what it read after the write changed it.
type flashCache struct {
	known bool
	fl    *Flash // immutable once stored
	boots int
	ver   uint64
}

var (
	bucketFlash   = []byte("flash")
	bucketBoots   = []byte("boots")
	bucketCorrupt = []byte("corrupt")
)

// OpenFlashDB opens (or creates) the database at path and starts its writer. Close it when
// the fleet stops.
func OpenFlashDB(path string) (*FlashDB, error) {
	db, err := bolt.Open(path, 0o644, &bolt.Options{
		Timeout: time.Second, // another process holds it: say so rather than wait forever
		// The free list is rebuilt at open instead of written at every commit: the commit
		// of a storm writes what changed and no more.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open flash database %s: %w", path, err)
	}
	fresh := true
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketFlash, bucketBoots, bucketCorrupt} {
			b, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			if k, _ := b.Cursor().First(); k != nil && string(name) != string(bucketCorrupt) {
				fresh = false
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open flash database %s: %w", path, err)
	}
	d := &FlashDB{db: db, path: path, kick: make(chan struct{}, 1), done: make(chan struct{}),
		pending: map[string]*dbWrite{}, cache: map[string]*flashCache{}, fresh: fresh}
	go d.writer()
	return d, nil
}

// Path returns the database file's path.
func (d *FlashDB) Path() string { return d.path }

// Close writes what is pending, stops the writer and closes the database. Later commits fail
// with ErrFlashClosed.
func (d *FlashDB) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	d.wake()
	<-d.done
	return d.db.Close()
}

// Flash returns the flash of the phone kept under key (the fleet names them phone-0001, …,
// as the directories of one file per phone).
func (d *FlashDB) Flash(key string) *DBFlash { return &DBFlash{db: d, key: key} }

// Keys returns the keys of the flashes kept, in order.
func (d *FlashDB) Keys() ([]string, error) {
	var keys []string
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFlash).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	return keys, err
}

func (d *FlashDB) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// queue adds a write for key and wakes the writer; fl is what doc decodes to (nil: not
// known).
func (d *FlashDB) queue(key string, doc []byte, fl *Flash, boots int, done func(error)) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		go done(ErrFlashClosed)
		return
	}
	w := d.pending[key]
	if w == nil {
		w = &dbWrite{}
		d.pending[key] = w
	}
	if doc != nil {
		w.doc, w.fl = doc, fl
	}
	if boots > 0 {
		w.boots = boots
	}
	w.waiters = append(w.waiters, done)
	d.mu.Unlock()
	d.wake()
}

// writer commits what is pending, one transaction at a time: whatever is queued while one
// commits goes into the next, so the more phones save at once, the more each sync carries.
func (d *FlashDB) writer() {
	defer close(d.done)
	for range d.kick {
		d.mu.Lock()
		batch, closed := d.pending, d.closed
		d.pending = map[string]*dbWrite{}
		d.mu.Unlock()
		if len(batch) > 0 {
			err := d.db.Update(func(tx *bolt.Tx) error {
				fb, bb := tx.Bucket(bucketFlash), tx.Bucket(bucketBoots)
				for key, w := range batch {
					if w.doc != nil {
						if err := fb.Put([]byte(key), w.doc); err != nil {
							return err
						}
					}
					if w.boots > 0 {
						// bbolt keeps the value's bytes until the commit: one array each.
						n := binary.BigEndian.AppendUint64(nil, uint64(w.boots))
						if err := bb.Put([]byte(key), n); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				err = fmt.Errorf("save flash: %w", err)
			} else {
				d.learn(batch)
			}
			for _, w := range batch {
				for _, done := range w.waiters {
					done(err)
				}
			}
		}
		if closed {
			d.mu.Lock()
			left := len(d.pending)
			d.mu.Unlock()
			if left == 0 {
				return
			}
			d.wake()
		}
	}
}

// learn keeps the cache up to date with a batch the writer has just made durable.
func (d *FlashDB) learn(batch map[string]*dbWrite) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for key, w := range batch {
		e := d.cache[key]
		if e == nil {
			e = &flashCache{known: d.fresh} // fresh: none before this write
			d.cache[key] = e
		}
		e.ver++
		switch {
		case w.doc != nil && w.fl == nil: // a document whose decoding is not known
			e.known, e.fl = false, nil
		case e.known:
			if w.doc != nil {
				e.fl = w.fl
			}
			if w.boots > 0 {
				e.boots = w.boots
			}
		case w.doc != nil && w.boots > 0: // both keys written: all there is, known
			e.known, e.fl, e.boots = true, w.fl, w.boots
		}
	}
}

// forget drops what the cache knows of key (a write that bypassed the writer).
func (d *FlashDB) forget(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.cache[key]
	if e == nil {
		e = &flashCache{}
		d.cache[key] = e
	}
	e.known, e.fl, e.boots = false, nil, 0
	e.ver++
}

// cached returns what the cache knows of key, or the entry's version for a read to come.
func (d *FlashDB) cached(key string) (fl *Flash, boots int, known bool, ver uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.cache[key]
	if e == nil {
		return nil, 0, d.fresh, 0 // fresh: never written
	}
	return e.fl, e.boots, e.known, e.ver
}

// store keeps what a read transaction found for key, unless the key changed since its
// version was ver (the read may predate the change).
func (d *FlashDB) store(key string, ver uint64, fl *Flash, boots int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.cache[key]
	switch {
	case e == nil && ver == 0:
		d.cache[key] = &flashCache{known: true, fl: fl, boots: boots}
	case e != nil && e.ver == ver && !e.known:
		e.known, e.fl, e.boots = true, fl, boots
	}
}

// DBFlash is one phone's flash in a [FlashDB]. It is safe for concurrent use.
type DBFlash struct {
	db  *FlashDB
	key string
}

// Path names the flash for logs: the database file and the key.
func (f *DBFlash) Path() string { return f.db.path + "#" + f.key }

// Load reads the flash. It returns ErrNoFlash when none was ever saved. The Flash is the
// caller's: its maps are its own.
func (f *DBFlash) Load() (*Flash, error) {
	cfl, cboots, known, ver := f.db.cached(f.key)
	if known {
		if cfl == nil {
			return nil, ErrNoFlash
		}
		fl := cfl.clone()
		fl.BootCount = max(fl.BootCount, cboots)
		return fl, nil
	}
	var doc []byte
	boots := 0
	err := f.db.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketFlash).Get([]byte(f.key)); v != nil {
			doc = append([]byte(nil), v...)
		}
		if v := tx.Bucket(bucketBoots).Get([]byte(f.key)); len(v) == 8 {
			boots = int(min(binary.BigEndian.Uint64(v), 1<<31-1))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read flash: %w", err)
	}
	if doc == nil {
		f.db.store(f.key, ver, nil, boots)
		return nil, ErrNoFlash
	}
	fl, err := DecodeFlash(doc, f.Path())
	if err != nil {
		return nil, err // not kept: a damaged flash is read again, and moved aside
	}
	f.db.store(f.key, ver, fl.clone(), boots)
	fl.BootCount = max(fl.BootCount, boots)
	return fl, nil
}

// Save writes the flash and returns when it is durable.
func (f *DBFlash) Save(fl *Flash) error {
	done := make(chan error, 1)
	f.Commit(fl, func(err error) { done <- err })
	return <-done
}

// Commit saves the flash in the background and calls done once it is durable (or failed),
// on the writer's goroutine: done must not block.
func (f *DBFlash) Commit(fl *Flash, done func(error)) {
	doc, err := EncodeFlash(fl)
	if err != nil {
		go done(err)
		return
	}
	// The boot count key goes with the document, so that the larger of the two that Load
	// takes is never older than the document.
	f.db.queue(f.key, doc, fl.decodedClone(), max(fl.BootCount, 0), done)
}

// CountBoot keeps the boot count of fl, alone: eight bytes, not the flash. It returns when it
// is durable.
func (f *DBFlash) CountBoot(fl *Flash) error {
	done := make(chan error, 1)
	f.db.queue(f.key, nil, nil, max(fl.BootCount, 1), func(err error) { done <- err })
	return <-done
}

// RemoveStale does nothing: a transaction that a power cut interrupted leaves nothing behind.
func (f *DBFlash) RemoveStale() error { return nil }

// MoveAside moves a flash that cannot be read to the "corrupt" bucket under
// "<key>.corrupt-<UTC time>", kept for forensics, and returns that name and the identity
// fields that could be read from it (see [FileFlash.MoveAside]).
func (f *DBFlash) MoveAside(now time.Time) (string, Flash, error) {
	var data []byte
	to := f.key + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	err := f.db.db.Update(func(tx *bolt.Tx) error {
		fb, cb := tx.Bucket(bucketFlash), tx.Bucket(bucketCorrupt)
		v := fb.Get([]byte(f.key))
		if v == nil {
			return ErrNoFlash
		}
		data = append([]byte(nil), v...)
		base := to
		for i := 1; cb.Get([]byte(to)) != nil; i++ {
			to = fmt.Sprintf("%s-%d", base, i)
		}
		if err := cb.Put([]byte(to), data); err != nil {
			return err
		}
		return fb.Delete([]byte(f.key))
	})
	f.db.forget(f.key)
	if err != nil {
		return "", Flash{}, fmt.Errorf("move flash aside: %w", err)
	}
	return f.db.path + "#corrupt/" + to, SalvageFlash(data), nil
}

// putRaw stores raw bytes as key's flash document, bypassing the encoder: for tests of a
// damaged flash.
func (d *FlashDB) putRaw(key string, data []byte) error {
	defer d.forget(key)
	return d.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketFlash).Put([]byte(key), data) })
}

// FlashDBFile is the name of a fleet's flash database in its data directory.
const FlashDBFile = "flash.db"

// FlashDBPath returns the path of the flash database of the data directory dir.
func FlashDBPath(dir string) string { return filepath.Join(dir, FlashDBFile) }
