package population

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// kindInfo describes a channel kind: its share of clients and how often a
// client of the kind shows the person's phone and e-mail.
type kindInfo struct {
	name, prefix   string
	weight         int
	phoneP, emailP float64
	source         string // how the kind's attributes usually arrive
}

// kinds are the channel kinds with their popularity.
var kinds = [...]kindInfo{
	{"telegram", "tg", 30, 0.55, 0.15, "BOT"},
	{"whatsapp", "wa", 25, 0.85, 0.15, "BOT"},
	{"web", "web", 20, 0.55, 0.60, "WIDGET"},
	{"instagram", "ig", 10, 0.20, 0.25, "BOT"},
	{"vk", "vk", 10, 0.30, 0.25, "BOT"},
	{"email", "email", 5, 0.25, 1, "WIDGET"},
}

const (
	kindTelegram = 0
	kindWhatsApp = 1
	kindWeb      = 2
	kindEmail    = 5
)

// Weights of the discrete choices.
var (
	channelCountWeights = []int{55, 28, 12, 5} // 1, 2, 3 or 4 channels
	nationalityWeights  = []int{77, 14, 9}     // natRU, natKZ, natEN
	displayWeights      = []int{45, 25, 25, 5} // "Anna K.", "Anna", "Anna Kuznetsova", "anna_k"
	conversationWeights = []int{60, 30, 10}    // 1, 2 or 3 conversations
	emailStyles         = 8
)

// Household and office shares: a person starts a new group or joins an
// open one. With mean sizes 3.5 and 22.5, about 3% of people live in a
// household sharing a phone and 1% work in an office sharing one.
const (
	householdStart, householdJoin = 0.0086, 0.0214
	officeStart, officeJoin       = 0.00045, 0.0096
	maxHouseholds, maxOffices     = 64, 16
)

// Phone subscriber numbers are a permutation of [phoneBase,
// phoneBase+phoneSpace): seven digits, never starting with 0, never
// repeating within the first nine million phones.
const (
	phoneBase  = 1_000_000
	phoneSpace = 9_000_000
)

// draft is a client of the person being generated.
type draft struct {
	kind  int
	attrs []attrValue
}

// person generates one person and writes their clients.
func (g *generator) person() {
	g.stats.Persons++
	pid := g.id("p", g.stats.Persons)

	n := min(1+g.weighted(channelCountWeights), g.cfg.Clients-g.stats.Clients)
	var has [len(kinds)]bool
	for i := range n {
		total := 0
		for k := range kinds {
			if !has[k] {
				total += kinds[k].weight
			}
		}
		r := g.rng.IntN(total)
		k := 0
		for ; k < len(kinds); k++ {
			if has[k] {
				continue
			}
			if r < kinds[k].weight {
				break
			}
			r -= kinds[k].weight
		}
		has[k] = true
		g.drafts[i].kind = k
		g.drafts[i].attrs = g.drafts[i].attrs[:0]
	}

	nat := nationality(g.weighted(nationalityWeights))
	lists := &nameLists[nat]
	var first, last name
	fem := g.chance(0.5)
	if fem {
		first = lists.female[g.rng.IntN(len(lists.female))]
	} else {
		first = lists.male[g.rng.IntN(len(lists.male))]
	}
	last = lists.surnames[g.rng.IntN(len(lists.surnames))]
	if fem {
		last = female(last)
	}

	// Personal phones: 70% one, 12% two, the rest none (unless on WhatsApp).
	var phones [2]phone
	np := 0
	switch r := g.rng.Float64(); {
	case r < 0.70:
		np = 1
	case r < 0.82:
		np = 2
	}
	if np == 0 && has[kindWhatsApp] {
		np = 1
	}
	for i := range np {
		phones[i] = g.mobile(nat)
	}
	habit := g.weighted(ruStyleWeights)
	for i := range np {
		shown := false
		for c := range n {
			k := g.drafts[c].kind
			p := kinds[k].phoneP
			if i == 1 {
				p *= 0.35
			}
			if g.chance(p) {
				g.addPhone(c, phones[i], habit, i == 0)
				shown = true
			}
		}
		if !shown {
			g.addPhone(g.rng.IntN(n), phones[i], habit, i == 0)
		}
	}

	if ph, ok := g.join(&g.households, householdStart, householdJoin, maxHouseholds, 2, 5, g.familyPhone); ok {
		g.addShared(g.rng.IntN(n), ph, 0.2)
	}
	if ph, ok := g.join(&g.offices, officeStart, officeJoin, maxOffices, 5, 40, g.officePhone); ok {
		g.addShared(g.rng.IntN(n), ph, 0.6)
	}

	// E-mail: about half of the people, and everyone writing by e-mail.
	var email string
	if has[kindEmail] || g.chance(0.48) {
		email = g.emailLocal(first, last) + "@" + g.emailDomain()
		shown := false
		for c := range n {
			k := g.drafts[c].kind
			if g.chance(kinds[k].emailP) {
				g.addEmail(c, email)
				shown = true
			}
		}
		if !shown {
			g.addEmail(g.rng.IntN(n), email)
		}
	}

	if g.chance(0.03) || nat == natEN && g.chance(0.08) {
		skype := "live:" + g.handle(first, last, '.') + g.tag()
		g.add(g.rng.IntN(n), "skype", skype, "OPERATOR", false)
	}

	t0 := g.cfg.Start.Add(g.seconds(periodDays * 0.9 * 86400))
	end := g.cfg.Start.Add(periodDays * 24 * time.Hour)

	if g.chance(0.12) {
		g.contracts++
		b := []byte("C-")
		b = strconv.AppendInt(b, int64(t0.Year()), 10)
		b = append(b, '-')
		b = appendZero(b, g.contracts, 6)
		src := "INTEGRATION"
		if g.chance(0.3) {
			src = "OPERATOR"
		}
		g.add(g.rng.IntN(n), "contract", string(b), src, true)
	}
	if g.chance(0.18) {
		g.crm++
		ext := string(appendZero([]byte("crm-"), g.crm, 6))
		c := g.rng.IntN(n)
		g.add(c, "externalId", ext, "INTEGRATION", true)
		if n > 1 && g.chance(0.15) {
			g.add((c+1+g.rng.IntN(n-1))%n, "externalId", ext, "INTEGRATION", true)
		}
	}

	for c := range n {
		if g.chance(placeholderRate) {
			p := placeholders[g.rng.IntN(len(placeholders))]
			g.add(c, p.field, p.value, kinds[g.drafts[c].kind].source, false)
		}
	}

	for c := range n {
		var created time.Time
		if c == 0 {
			created = t0
		} else {
			created = t0.Add(g.seconds(120 * 86400))
		}
		if !created.Before(end) {
			created = end.Add(-time.Hour)
		}
		lastSeen := created.Add(g.seconds(end.Sub(created).Seconds()))
		g.writeClient(pid, &g.drafts[c], first, last, phones[0], email, created, lastSeen)
		if g.err != nil {
			return
		}
	}
}

// writeClient writes one client line, its truth row and queues its
// later-arriving attributes and conversations.
func (g *generator) writeClient(pid string, d *draft, first, last name, wa phone, email string, created, lastSeen time.Time) {
	k := d.kind
	g.kindSeq[k]++
	seq := g.kindSeq[k]
	cid := g.id(kinds[k].prefix, seq)

	var user string
	switch k {
	case kindTelegram:
		user = strconv.FormatUint(100_000_000+g.tgPerm.at(uint64(seq)), 10)
	case kindWhatsApp:
		user = wa.digits()
	case kindWeb:
		user = "v-" + strconv.FormatUint(1<<48|g.webPerm.at(uint64(seq)), 16)[1:]
	case kindEmail:
		user = strings.ToLower(email)
	case 3: // instagram
		user = g.handle(first, last, '_') + g.tag()
	default: // vk
		user = "id" + strconv.FormatUint(10_000_000+g.vkPerm.at(uint64(seq)), 10)
	}

	l := &g.line
	if l.Attributes == nil {
		l.Attributes = make([]attrValue, 0, 8)
	}
	l.Op, l.ID, l.ChannelUserID = "client", cid, user
	l.Channel = channelRef{Kind: kinds[k].name, Account: g.cfg.Account}
	l.DisplayName = g.displayName(first, last)
	l.CreatedAt, l.LastSeenAt = stamp(created), stamp(lastSeen)
	l.Attributes = l.Attributes[:0]
	nLater := 0
	for _, a := range d.attrs {
		if g.chance(invalidShare) {
			a.Value = g.corrupt(a)
		}
		g.stats.Attributes++
		if g.chance(laterShare) {
			d.attrs[nLater] = a
			nLater++
			continue
		}
		l.Attributes = append(l.Attributes, a)
	}
	l.EventID = g.nextEventID()
	g.encode(l)
	g.stats.Clients++
	if g.truth != nil && g.err == nil {
		g.truth.WriteString(cid)
		g.truth.WriteByte('\t')
		g.truth.WriteString(pid)
		_, g.err = g.truth.WriteString("\n")
	}

	for _, a := range d.attrs[:nLater] {
		g.deferLine(pending{client: cid, attr: a}, g.between(1, maxDelay))
	}
	if g.chance(conversationP) {
		for range 1 + g.weighted(conversationWeights) {
			g.convs++
			started := created.Add(g.seconds(lastSeen.Sub(created).Seconds()))
			last := started.Add(time.Minute + g.seconds(3*3600))
			if last.After(lastSeen) {
				last = lastSeen
			}
			g.deferLine(pending{
				client: cid, conv: true, convID: g.id("conv", g.convs),
				started: stamp(started), last: stamp(last),
				summary: summaries[g.rng.IntN(len(summaries))],
			}, g.between(0, maxDelay))
		}
	}
	g.drain()
}

// seconds returns a random whole number of seconds in [0, s).
func (g *generator) seconds(s float64) time.Duration {
	if s < 1 {
		return 0
	}
	return time.Duration(g.rng.Int64N(int64(s))) * time.Second
}

// add gives client c of the current person an attribute.
func (g *generator) add(c int, field, value, source string, verified bool) {
	if g.chance(0.03) {
		source, verified = "IMPORT", false
	}
	g.drafts[c].attrs = append(g.drafts[c].attrs, attrValue{Field: field, Value: value, Source: source, Verified: verified})
}

// addPhone puts a personal phone on client c, spelled mostly the person's
// usual way. A Telegram contact share or WhatsApp number is verified.
func (g *generator) addPhone(c int, ph phone, habit int, primary bool) {
	style := habit
	if !g.chance(0.55) {
		style = g.weighted(ruStyleWeights)
	}
	k := g.drafts[c].kind
	src, verified := kinds[k].source, false
	switch {
	case g.chance(0.10):
		src, verified = "OPERATOR", g.chance(0.3)
	case k == kindTelegram && g.chance(0.4):
		style, verified = 6, true // "+79161234567" from a shared contact
	case k == kindWhatsApp && primary && g.chance(0.5):
		style, verified = 3, true // "79161234567", the WhatsApp id
	}
	g.add(c, "phone", ph.format(style), src, verified)
}

// addShared puts a household or office phone on client c; operators enter
// it with probability op.
func (g *generator) addShared(c int, ph phone, op float64) {
	src := kinds[g.drafts[c].kind].source
	if g.chance(op) {
		src = "OPERATOR"
	}
	g.add(c, "phone", ph.format(g.weighted(ruStyleWeights)), src, false)
}

// addEmail puts the person's e-mail on client c, with the case people
// happen to type it in. The address of an e-mail client is verified.
func (g *generator) addEmail(c int, email string) {
	k := g.drafts[c].kind
	src, verified := kinds[k].source, false
	if k == kindEmail {
		src, verified = "INTEGRATION", true
	} else if g.chance(0.08) {
		src = "OPERATOR"
	}
	switch r := g.rng.Float64(); {
	case r < 0.65:
	case r < 0.90:
		email = titleCase(email)
	case r < 0.95:
		email = strings.ToUpper(email[:1]) + email[1:]
	default:
		email = strings.ToUpper(email)
	}
	g.add(c, "email", email, src, verified)
}

// join makes the person start (probability start) or join (join) a group
// sharing a phone, and returns the group's phone.
func (g *generator) join(groups *[]shared, start, join float64, maxOpen, lo, hi int, newPhone func() phone) (phone, bool) {
	r := g.rng.Float64()
	switch {
	case r < start && len(*groups) < maxOpen:
		ph := newPhone()
		*groups = append(*groups, shared{phone: ph, left: g.between(lo, hi) - 1})
		return ph, true
	case r < start+join && len(*groups) > 0:
		i := g.rng.IntN(len(*groups))
		s := &(*groups)[i]
		ph := s.phone
		if s.left--; s.left <= 0 {
			last := len(*groups) - 1
			(*groups)[i] = (*groups)[last]
			*groups = (*groups)[:last]
		}
		return ph, true
	}
	return phone{}, false
}

// subscriber returns the next seven-digit subscriber number.
func (g *generator) subscriber() string {
	s := phoneBase + g.phonePerm.at(g.phoneSeq%phoneSpace)
	g.phoneSeq++
	return strconv.FormatUint(s, 10)
}

// pick returns a random element of list.
func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// mobile returns a new personal mobile number for a person of nat:
// Russians mostly +7 9xx, some Belarusian, a few foreign; Kazakhs mostly
// +7 7xx; others mostly foreign.
func (g *generator) mobile(nat nationality) phone {
	r := g.rng.Float64()
	switch {
	case nat == natKZ && r < 0.85:
		return phone{"7", g.pick(kzMobileCodes) + g.subscriber()}
	case nat == natRU && r >= 0.93 && r < 0.98:
		return phone{"375", g.pick(byMobileCodes) + g.subscriber()}
	case nat == natRU && r >= 0.98, nat == natEN && r < 0.55:
		sub := g.subscriber()
		switch g.rng.IntN(3) {
		case 0:
			return phone{"49", g.pick(deMobileCodes) + sub}
		case 1:
			if sub[0] >= '2' {
				return phone{"1", g.pick(usAreaCodes) + sub}
			}
		}
		return phone{"44", g.pick(ukMobileCodes) + sub}
	}
	return phone{"7", g.pick(ruMobileCodes) + g.subscriber()}
}

// familyPhone is a household's shared number: a city landline or one
// family mobile.
func (g *generator) familyPhone() phone {
	if g.chance(0.6) {
		return phone{"7", g.pick(ruCityCodes) + g.subscriber()}
	}
	return phone{"7", g.pick(ruMobileCodes) + g.subscriber()}
}

// officePhone is an office's shared number, mostly in Moscow.
func (g *generator) officePhone() phone {
	code := "495"
	if !g.chance(0.8) {
		code = g.pick(ruCityCodes)
	}
	return phone{"7", code + g.subscriber()}
}

// tag returns a unique number to make an e-mail, Instagram or Skype name
// unique (unique for the first max(Clients, 1000) calls, more than a
// population needs).
func (g *generator) tag() string {
	t := g.tagPerm.at(g.tagSeq % g.tagPerm.n)
	g.tagSeq++
	return strconv.FormatUint(t, 10)
}

// handle builds a lower-case user name from the person's names, joined by
// sep where it joins two parts; it never ends with a digit, so a tag after
// it keeps it unique.
func (g *generator) handle(first, last name, sep byte) string {
	f, l := strings.ToLower(first.lat), strings.ToLower(last.lat)
	s := string(sep)
	switch g.rng.IntN(emailStyles) {
	case 0:
		return f + s + l
	case 1:
		return f + "_" + l
	case 2:
		return f + l
	case 3:
		return f[:1] + s + l
	case 4:
		return l + s + f
	case 5:
		return f + s + l[:1]
	case 6:
		return l + f[:1]
	default:
		return f
	}
}

// emailLocal is the part of a new e-mail address before "@".
func (g *generator) emailLocal(first, last name) string {
	return g.handle(first, last, '.') + g.tag()
}

// emailDomain picks a mail service by popularity.
func (g *generator) emailDomain() string {
	total := 0
	for _, d := range emailDomains {
		total += d.weight
	}
	r := g.rng.IntN(total)
	for _, d := range emailDomains {
		if r < d.weight {
			return d.domain
		}
		r -= d.weight
	}
	return emailDomains[0].domain
}

// titleCase capitalizes each word of an address: "anna.k12@mail.ru"
// becomes "Anna.K12@Mail.ru".
func titleCase(s string) string {
	b := []byte(s)
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '.' || c == '_' || c == '@'
	}
	// The top-level domain stays lower-case, as people type it.
	if i := strings.LastIndexByte(s, '.'); i >= 0 && i > strings.IndexByte(s, '@') {
		copy(b[i:], s[i:])
	}
	return string(b)
}

// displayName is how the person shows up on one channel: first name and
// initial, first name alone, full name, or a lower-case nickname; in
// Cyrillic more often than not for Russian and Kazakh names.
func (g *generator) displayName(first, last name) string {
	f, l := first.lat, last.lat
	if first.cyr != "" && g.chance(0.6) {
		f, l = first.cyr, last.cyr
	}
	switch g.weighted(displayWeights) {
	case 0:
		r, _ := utf8.DecodeRuneInString(l)
		return f + " " + string(r) + "."
	case 1:
		return f
	case 2:
		return f + " " + l
	default:
		return strings.ToLower(first.lat) + "_" + strings.ToLower(last.lat[:1])
	}
}

// corrupt returns the kind of bad input people send instead of a phone or
// e-mail; other fields come from systems and stay as they are.
func (g *generator) corrupt(a attrValue) string {
	switch a.Field {
	case "phone":
		switch g.rng.IntN(5) {
		case 0:
			return "12345"
		case 1:
			return "not-a-phone"
		case 2:
			if len(a.Value) > 6 {
				return a.Value[:len(a.Value)-3]
			}
			return "0"
		case 3:
			return "тел. " + a.Value
		default:
			return "0"
		}
	case "email":
		local, domain, ok := strings.Cut(a.Value, "@")
		if !ok {
			return a.Value
		}
		switch g.rng.IntN(4) {
		case 0:
			return local + "@"
		case 1:
			return local + domain
		case 2:
			if i := strings.LastIndexByte(domain, '.'); i > 0 {
				return local + "@" + domain[:i] // "anna@mail"
			}
			return local + "@"
		default:
			return "@" + domain
		}
	}
	return a.Value
}

// appendZero appends n zero-padded to width digits.
func appendZero(b []byte, n, width int) []byte {
	var buf [20]byte
	d := strconv.AppendInt(buf[:0], int64(n), 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}
