package identity

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Defaults for a new project's protections.
const (
	DefaultKeyCap   = 50 // clients per match key before it is quarantined
	DefaultValueCap = 10 // values per field per client
	MaxIDLen        = 256
)

var projectIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$`)

// Project is a tenant: one business, with its own fields, rules and clients.
type Project struct {
	ID         string
	Name       string
	Region     string // default region for phone numbers
	KeyCap     int
	ValueCap   int
	CreatedAt  time.Time
	Resolution Resolution

	// AcceptUnverifiedWidgetValues lets values that a website visitor typed
	// into the widget, unproven by the business's server, link clients.
	AcceptUnverifiedWidgetValues bool

	// Locale is the language of the project's error messages ("ru" or
	// "en", see Localize) when a request's Accept-Language names neither.
	Locale string
}

// ResolutionState says whether every multi-contact reflects the current rules.
type ResolutionState string

// Resolution states.
const (
	ResolutionIdle    ResolutionState = "IDLE"
	ResolutionRunning ResolutionState = "RUNNING"
)

// Resolution is a project's background re-resolution, with progress in [0,1].
type Resolution struct {
	State    ResolutionState
	Progress float64
}

// Settings are the editable parts of a project; nil fields stay as they are.
type Settings struct {
	Name     *string
	Region   *string
	KeyCap   *int
	ValueCap *int

	AcceptUnverifiedWidgetValues *bool
	Locale                       *string
}

// NewProject validates a project's creation input and fills the defaults.
func NewProject(id, name, region string) (Project, error) {
	if !projectIDPattern.MatchString(id) {
		return Project{}, Errorf("id", CodeInvalidArgument, "a project id is 1 to 64 letters, digits, '-' or '_', starting with a letter or digit")
	}
	p := Project{ID: id, Name: id, KeyCap: DefaultKeyCap, ValueCap: DefaultValueCap, Locale: DefaultLocale}
	if region == "" {
		region = "RU"
	}
	if err := p.Apply(Settings{Name: &name, Region: &region}); err != nil {
		return Project{}, err
	}
	return p, nil
}

// Apply validates s and changes p accordingly; p is unchanged on error.
func (p *Project) Apply(s Settings) error {
	next := *p
	if s.Name != nil {
		name := strings.TrimSpace(*s.Name)
		if name == "" {
			name = p.ID
		}
		if utf8.RuneCountInString(name) > 200 {
			return Errorf("name", CodeTooLong, "a project name is at most 200 characters")
		}
		next.Name = name
	}
	if s.Region != nil {
		r, err := NormalizeRegion(*s.Region)
		if err != nil {
			return err
		}
		next.Region = r
	}
	if s.KeyCap != nil {
		if err := CheckKeyCap(*s.KeyCap); err != nil {
			return err
		}
		next.KeyCap = *s.KeyCap
	}
	if s.ValueCap != nil {
		if *s.ValueCap < 1 || *s.ValueCap > 100 {
			return Errorf("valueCap", CodeInvalidArgument, "the cap of values per field is between 1 and 100")
		}
		next.ValueCap = *s.ValueCap
	}
	if s.AcceptUnverifiedWidgetValues != nil {
		next.AcceptUnverifiedWidgetValues = *s.AcceptUnverifiedWidgetValues
	}
	if s.Locale != nil {
		l, err := ParseLocale(*s.Locale)
		if err != nil {
			return err
		}
		next.Locale = l
	}
	*p = next
	return nil
}

// ValidateID checks an id chosen by a caller (client, rule, channel account):
// non-empty, at most MaxIDLen bytes, no control characters.
func ValidateID(field, id string) error {
	if strings.TrimSpace(id) == "" {
		return Errorf(field, CodeEmpty, "%s must not be empty", field)
	}
	if len(id) > MaxIDLen {
		return Errorf(field, CodeTooLong, "%s is at most %d bytes", field, MaxIDLen)
	}
	if !utf8.ValidString(id) || strings.IndexFunc(id, unicode.IsControl) >= 0 {
		return Errorf(field, CodeInvalidValue, "%s must be text without control characters", field)
	}
	return nil
}

var channelKindPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Channel is where a client writes from: a kind (web, telegram, whatsapp,
// instagram, vk, email, ...) and the business's account on it.
type Channel struct {
	Kind    string
	Account string
}

// Validate checks a channel; the kind is lower-case so that one channel is one node.
func (c Channel) Validate() error {
	if !channelKindPattern.MatchString(c.Kind) {
		return Errorf("channel.kind", CodeInvalidArgument, "a channel kind is 1 to 32 lower-case letters, digits or '_', e.g. telegram")
	}
	return ValidateID("channel.account", c.Account)
}

// Attribute is one identifier a client holds, with where it came from.
type Attribute struct {
	Field     string
	Value     string // normalized
	Extension string // a phone's extension, kept beside the number (not matched)
	Source    Source
	Verified  bool
	At        time.Time
}

// Client is one person as one channel sees them.
type Client struct {
	ID             string
	DisplayName    string
	Channel        Channel
	ChannelUserID  string
	CreatedAt      time.Time
	LastSeenAt     time.Time
	MultiContactID string
	Excluded       bool
	Attributes     []Attribute
}

// MultiContact is a connected component of the match graph: one person
// across channels. Aliases are the ids it absorbed, which still resolve to it.
type MultiContact struct {
	ID        string
	Size      int
	CreatedAt time.Time
	Aliases   []string
	Clients   []Client
}

// AttributeInput is one identifier as a caller sends it, before normalization.
type AttributeInput struct {
	Field    string
	Value    string
	Source   Source
	Verified bool
}

// ClientInput creates or updates a client. Attributes are added to the ones
// it has; nothing is removed by an upsert. A zero CreatedAt means now (an
// import carries the original); a zero LastSeenAt leaves it as it is (now
// for a new client); a later LastSeenAt moves it forward, never back.
type ClientInput struct {
	ID            string
	Channel       Channel
	ChannelUserID string
	DisplayName   string
	Attributes    []AttributeInput
	CreatedAt     time.Time
	LastSeenAt    time.Time
}

// KeyPart is one field's value inside a match key.
type KeyPart struct {
	Field string
	Value string
}

// LinkStep is one edge of the evidence between two clients of a
// multi-contact: From and To match under Rule on Parts, or were linked by hand.
type LinkStep struct {
	From, To string
	Rule     string // rule id; "" for a manual link
	RuleName string
	Parts    []KeyPart
	Manual   bool
}

// QuarantinedKey is a match key held by more clients than the project's cap:
// it links nobody until an admin allows it or raises the cap.
type QuarantinedKey struct {
	Rule  string
	Key   string
	Parts []KeyPart
	Size  int
	Since time.Time
}

// CheckKeyCap checks a cap of clients per match key.
func CheckKeyCap(n int) error {
	if n < 2 || n > 100000 {
		return Errorf("keyCap", CodeInvalidArgument, "the cap of clients per match key is between 2 and 100000")
	}
	return nil
}
