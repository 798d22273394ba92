package population

import "strconv"

// phone is one telephone line: country calling code and national
// significant number, digits only.
type phone struct {
	cc  string
	nat string
}

// Operator and city codes; each one, followed by seven digits starting with
// 1-9, is a valid number for libphonenumber.
var (
	ruMobileCodes = func() []string {
		var c []string
		for i := 901; i <= 999; i++ {
			c = append(c, strconv.Itoa(i))
		}
		return c
	}()
	kzMobileCodes = []string{"700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778"}
	ruCityCodes   = []string{"495", "499", "812", "383", "343", "843", "863", "846"}
	byMobileCodes = []string{"29", "33", "44"}
	deMobileCodes = []string{"160", "162", "170", "171", "172", "176", "177", "178", "179"}
	ukMobileCodes = []string{"740", "741", "772", "773", "781", "794", "795"}
	usAreaCodes   = []string{"212", "310", "312", "415", "646", "917"}
)

// ruStyleWeights weighs the spellings of format for numbers of country code
// 7 (Russia and Kazakhstan), in the order of its cases.
var ruStyleWeights = []int{18, 14, 16, 6, 6, 6, 18, 6, 8, 2}

// otherStyles is how many spellings format knows for the other codes.
var otherStyles = map[string]int{"375": 4, "49": 3, "44": 3, "1": 4}

// format spells p the way people type it; style selects the spelling and
// wraps around for countries with fewer spellings.
func (p phone) format(style int) string {
	n := p.nat
	switch p.cc {
	case "7":
		a, b, c, d := n[:3], n[3:6], n[6:8], n[8:10]
		switch style % len(ruStyleWeights) {
		case 0:
			return "+7 " + a + " " + b + "-" + c + "-" + d
		case 1:
			return "8 (" + a + ") " + b + "-" + c + "-" + d
		case 2:
			return "8" + n
		case 3:
			return "7" + n
		case 4:
			return "+7(" + a + ")" + b + c + d
		case 5:
			return "8-" + a + "-" + b + "-" + c + "-" + d
		case 6:
			return "+7" + n
		case 7:
			return "8 " + a + " " + b + " " + c + " " + d
		case 8:
			return "+7 (" + a + ") " + b + "-" + c + "-" + d
		default:
			return n
		}
	case "375":
		a, b, c, d := n[:2], n[2:5], n[5:7], n[7:9]
		switch style % otherStyles[p.cc] {
		case 0:
			return "+375 " + a + " " + b + "-" + c + "-" + d
		case 1:
			return "+375 (" + a + ") " + b + "-" + c + "-" + d
		case 2:
			return "+375" + n
		default:
			return "+375 " + a + " " + b + c + d
		}
	case "49":
		switch style % otherStyles[p.cc] {
		case 0:
			return "+49 " + n[:3] + " " + n[3:]
		case 1:
			return "+49" + n
		default:
			return "+49 (" + n[:3] + ") " + n[3:6] + " " + n[6:]
		}
	case "44":
		switch style % otherStyles[p.cc] {
		case 0:
			return "+44 " + n[:4] + " " + n[4:]
		case 1:
			return "+44" + n
		default:
			return "+44 " + n[:4] + " " + n[4:7] + " " + n[7:]
		}
	default: // "1"
		a, b, c := n[:3], n[3:6], n[6:]
		switch style % otherStyles[p.cc] {
		case 0:
			return "+1 (" + a + ") " + b + "-" + c
		case 1:
			return "+1" + n
		case 2:
			return "+1 " + a + "-" + b + "-" + c
		default:
			return "+1 " + a + " " + b + " " + c
		}
	}
}

// digits is the number in E.164 without the "+", as WhatsApp names its
// users.
func (p phone) digits() string { return p.cc + p.nat }
