package filedrop

import (
	"context"
	"sync"
)

// keyedLocks serialises work on one key (an upload id) without a lock per
// key living forever.
type keyedLocks struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// lock waits until key is free or ctx ends.
func (k *keyedLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	for {
		unlock, ch := k.acquire(key)
		if unlock != nil {
			return unlock, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// tryLock takes key if it is free.
func (k *keyedLocks) tryLock(key string) (unlock func(), ok bool) {
	unlock, _ = k.acquire(key)
	return unlock, unlock != nil
}

// acquire takes key, or returns the channel that closes when its holder lets go.
func (k *keyedLocks) acquire(key string) (unlock func(), held chan struct{}) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ch, ok := k.m[key]; ok {
		return nil, ch
	}
	if k.m == nil {
		k.m = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	k.m[key] = ch
	return func() {
		k.mu.Lock()
		delete(k.m, key)
		k.mu.Unlock()
		close(ch)
	}, nil
}
