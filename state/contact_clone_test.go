package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestContactCloneSharesNoList: every list of the record (at any depth of its
// struct fields) is copied by Clone; a field added later that Clone does not copy
// fails here. Only the copy-on-write derived caches may be shared.
func TestContactCloneSharesNoList(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	shared := map[string]bool{"agg": true, "msgAgg": true, "byAuto": true}
	checked := map[string]bool{}
	for range 50 {
		c := randContact(r)
		_ = attrs(c) // fill the derived caches
		cl := c.Clone()
		if !contactEqual(c, cl) {
			t.Fatalf("clone differs:\n%#v\n%#v", stored(c), stored(cl))
		}
		var walk func(path string, a, b reflect.Value)
		walk = func(path string, a, b reflect.Value) {
			switch a.Kind() {
			case reflect.Struct:
				for i := range a.NumField() {
					f := a.Type().Field(i)
					if shared[f.Name] {
						continue
					}
					walk(path+"."+f.Name, a.Field(i), b.Field(i))
				}
			case reflect.Slice:
				checked[path] = true
				if a.Len() > 0 && a.Pointer() == b.Pointer() {
					t.Errorf("%s: the clone shares the original's list", path)
				}
			case reflect.Map, reflect.Pointer:
				if !a.IsNil() && a.Pointer() == b.Pointer() {
					t.Errorf("%s: the clone shares the original's %s", path, a.Kind())
				}
			}
		}
		walk("Contact", reflect.ValueOf(c).Elem(), reflect.ValueOf(cl).Elem())
	}
	if len(checked) < 15 {
		t.Fatalf("only %d list fields walked: %v", len(checked), checked)
	}
}

// TestContactCloneIsolated: events applied to a clone leave the original's record
// and attributes exactly as they were, through the same cycle the processor's cache
// goes through (the clone, once written, becomes the copy the next one is made of).
func TestContactCloneIsolated(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 3))
	for range 100 {
		cur := &Contact{}
		now := t0
		for i := range 60 {
			before, err := cur.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			beforeAttrs := fmt.Sprintf("%+v", attrs(cur))
			cl := cur.Clone()
			_ = attrs(cl)
			ev := randEvent(r, now, i)
			now = now.Add(time.Duration(r.IntN(int(2 * day))))
			cl.Apply(ev, now)
			cl.Memberships = append(cl.Memberships, Membership{Segment: "x", N: 1})
			if len(cl.Memberships) > 1 {
				cl.Memberships[0].N++
			}
			after, err := cur.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Fatalf("event %d %v: applying it to a clone changed the original's record", i, ev.Kind)
			}
			if a := fmt.Sprintf("%+v", attrs(cur)); a != beforeAttrs {
				t.Fatalf("event %d %v: applying it to a clone changed the original's attributes:\n%s\n%s", i, ev.Kind, beforeAttrs, a)
			}
			if r.IntN(4) > 0 { // the clone committed: the next window clones it
				cl.Memberships = cl.Memberships[:len(cl.Memberships)-1]
				cur = cl
			}
		}
	}
}
