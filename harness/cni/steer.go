// Steering host-local: which last-reserved address makes a given address
// the next one it hands out, checked with host-local's own allocator.

package cni

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/containernetworking/plugins/pkg/ip"
	"github.com/containernetworking/plugins/plugins/ipam/host-local/backend/allocator"
)

// LastReservedPrefix names host-local's per-range-set cursor files
// (last_reserved_ip.<index of the range set>) in its state folder.
const LastReservedPrefix = "last_reserved_ip."

// Held are the addresses among the names of host-local's state folder
// (a file per address held; its cursors and lock are not addresses).
func Held(names []string) []string {
	var held []string
	for _, f := range names {
		if f != "lock" && !strings.HasPrefix(f, LastReservedPrefix) {
			held = append(held, f)
		}
	}
	return held
}

// Steering is how to make host-local hand out an address next: write
// Last into File (under the state folder's Lock).
type Steering struct {
	// File is the range set's cursor, last_reserved_ip.<index>.
	File string
	// Last is the address to record as the last reserved one.
	Last string
	// Lock is host-local's lock file (its disk store flocks it).
	Lock string
}

// ErrNotSteerable says host-local cannot be steered onto an address: not
// host-local, the address in none of its ranges, or its allocator would
// hand out another one.
var ErrNotSteerable = errors.New("host-local cannot be steered onto the address")

// Steer says how to make host-local hand out addr next, given the
// addresses held now (the files in StateDir; addr itself counts as free).
// The cursor is the address before addr in host-local's order: inside
// addr's range, the one before it; for a range's first address, the end
// of the range before it in the set (the iterator wraps from the last to
// the first). It checks the result with host-local's own allocator over
// the same state, so a config whose order it would not follow (a gateway,
// several ranges) is refused before anything is disturbed.
func (n Network) Steer(addr string, held []string) (Steering, error) {
	if n.IPAM != IPAMHostLocal || n.StateDir == "" {
		return Steering{}, fmt.Errorf("%w: the network's IPAM is %q, not host-local", ErrNotSteerable, n.IPAM)
	}
	want := net.ParseIP(addr)
	if want == nil {
		return Steering{}, fmt.Errorf("%w: %q is not an address", ErrNotSteerable, addr)
	}
	for idx := range n.sets {
		set := n.sets[idx]
		if !set.Contains(want) {
			continue
		}
		last := previous(set, want)
		got, err := nextAddress(set, idx, last, held, want)
		if err != nil {
			return Steering{}, fmt.Errorf("%w: host-local's allocator: %v", ErrNotSteerable, err)
		}
		if !got.Equal(want) {
			return Steering{}, fmt.Errorf("%w: with %s as the last reserved address, host-local would hand out %s, not %s", ErrNotSteerable, last, got, addr)
		}
		return Steering{
			File: path.Join(n.StateDir, LastReservedPrefix+strconv.Itoa(idx)),
			Last: last.String(),
			Lock: path.Join(n.StateDir, "lock"),
		}, nil
	}
	return Steering{}, fmt.Errorf("%w: %s is in none of its ranges (%v)", ErrNotSteerable, addr, n.Ranges)
}

// previous is the address before addr in the iterator's order over set.
func previous(set allocator.RangeSet, addr net.IP) net.IP {
	for i, r := range set {
		if !r.Contains(addr) {
			continue
		}
		if !addr.Equal(r.RangeStart) {
			return ip.PrevIP(addr)
		}
		return set[(i+len(set)-1)%len(set)].RangeEnd
	}
	return nil
}

// nextAddress is the address host-local's allocator hands out from set
// (range set index idx) with last as its last reserved address and held
// taken (free excepted).
func nextAddress(set allocator.RangeSet, idx int, last net.IP, held []string, free net.IP) (net.IP, error) {
	st := &store{held: map[string]bool{}, last: map[string]net.IP{strconv.Itoa(idx): last}}
	for _, h := range held {
		if a := net.ParseIP(h); a != nil && !a.Equal(free) {
			st.held[a.String()] = true
		}
	}
	got, err := allocator.NewIPAllocator(&set, st, idx).Get("kubegrace-steer", "eth0", nil)
	if err != nil {
		return nil, err
	}
	return got.Address.IP, nil
}

// store is host-local's backend.Store over a snapshot of its state folder:
// the addresses held and the cursors. Reserve takes nothing for real.
type store struct {
	held map[string]bool
	last map[string]net.IP
}

func (s *store) Lock() error   { return nil }
func (s *store) Unlock() error { return nil }
func (s *store) Close() error  { return nil }
func (s *store) Reserve(_, _ string, a net.IP, _ string) (bool, error) {
	return !s.held[a.String()], nil
}
func (s *store) LastReservedIP(id string) (net.IP, error) {
	if l, ok := s.last[id]; ok {
		return l, nil
	}
	return nil, os.ErrNotExist
}
func (s *store) ReleaseByID(_, _ string) error { return nil }
func (s *store) GetByID(_, _ string) []net.IP  { return nil }
