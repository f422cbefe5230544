package gen

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults of Config.
const (
	DefaultWorkspaces           = 1
	DefaultContactsPerWorkspace = 3000
	DefaultHistory              = 400 * 24 * time.Hour
)

// DefaultMix is the event mix of the live stream when Config.Mix is zero.
var DefaultMix = Mix{Orders: 0.25, Customers: 0.15, Messaging: 0.60}

// MaxWorkspaces is the largest Config.Workspaces.
const MaxWorkspaces = 1 << 16

// Config configures a Generator. The zero value means the defaults documented on each
// field.
type Config struct {
	// Seed makes the output deterministic: the same Config (Start included) yields the
	// same History, Segments and Catalog, and the same sequence of Next values for the
	// same sequence of now arguments.
	Seed int64

	// Workspaces is the number of shops; 0 means 1. Workspace 0 is
	// "demo-shop.myshopify.com", workspace i > 0 is "shop-%03d.myshopify.com".
	Workspaces int

	// ContactsPerWorkspace is the mean number of contacts per shop in the history;
	// 0 means 3000.
	ContactsPerWorkspace int

	// Skew spreads the Workspaces×ContactsPerWorkspace contacts over the shops: shop i
	// gets a share proportional to 1/(i+1)^Skew (Zipf-like), at least one contact.
	// 0 means every shop has ContactsPerWorkspace contacts. Live traffic follows shop
	// size, so large shops are also busy shops.
	Skew float64

	// Mix is the share of each kind of event in the live stream; the zero value means
	// DefaultMix (0.25 / 0.15 / 0.60). Fractions are normalized to sum to 1.
	Mix Mix

	// Start is the "now" of the generated history: every history event occurred
	// before it. The zero value means time.Now() at New, which makes the output depend
	// on the wall clock; set it for reproducible output.
	Start time.Time

	// History is how far back before Start orders go; 0 means 400 days. Contacts may
	// have been created up to 180 days earlier still.
	History time.Duration
}

// Mix gives the share of each kind of event in the live stream.
type Mix struct {
	// Orders: orders/create, orders/paid, orders/updated, orders/cancelled (including
	// a few guest checkouts).
	Orders float64
	// Customers: customers/create, customers/update, customers/delete, tags added and
	// removed, SMS, WhatsApp and e-mail marketing consent updates.
	Customers float64
	// Messaging: messages/status, messages/inbound, automations/completed,
	// lists/member_added and lists/member_removed, conversations/updated.
	Messaging float64
}

// Validate reports whether c is usable.
func (c *Config) Validate() error {
	var errs []error
	if c.Workspaces < 0 || c.Workspaces > MaxWorkspaces {
		errs = append(errs, fmt.Errorf("workspaces %d is not in [0, %d]", c.Workspaces, MaxWorkspaces))
	}
	if c.ContactsPerWorkspace < 0 || c.ContactsPerWorkspace > 1<<28 {
		errs = append(errs, fmt.Errorf("contacts per workspace %d is not in [0, 2^28]", c.ContactsPerWorkspace))
	}
	if c.Skew < 0 || math.IsNaN(c.Skew) || math.IsInf(c.Skew, 0) {
		errs = append(errs, fmt.Errorf("skew %v is not a finite non-negative number", c.Skew))
	}
	for _, f := range [...]struct {
		name string
		v    float64
	}{{"orders", c.Mix.Orders}, {"customers", c.Mix.Customers}, {"messaging", c.Mix.Messaging}} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			errs = append(errs, fmt.Errorf("mix: %s fraction %v is not a finite non-negative number", f.name, f.v))
		}
	}
	if c.History < 0 {
		errs = append(errs, fmt.Errorf("history %v is negative", c.History))
	} else if c.History > 0 && c.History < 24*time.Hour {
		errs = append(errs, fmt.Errorf("history %v is shorter than a day", c.History))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gen: invalid config: %w", err)
	}
	return nil
}

// withDefaults returns c with zero fields replaced by their defaults and the mix
// normalized.
func (c Config) withDefaults() Config {
	if c.Workspaces == 0 {
		c.Workspaces = DefaultWorkspaces
	}
	if c.ContactsPerWorkspace == 0 {
		c.ContactsPerWorkspace = DefaultContactsPerWorkspace
	}
	if c.Mix.Orders+c.Mix.Customers+c.Mix.Messaging == 0 {
		c.Mix = DefaultMix
	}
	sum := c.Mix.Orders + c.Mix.Customers + c.Mix.Messaging
	c.Mix = Mix{c.Mix.Orders / sum, c.Mix.Customers / sum, c.Mix.Messaging / sum}
	if c.Start.IsZero() {
		c.Start = time.Now()
	}
	if c.History == 0 {
		c.History = DefaultHistory
	}
	return c
}
