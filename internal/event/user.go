package event

import (
	"strconv"
	"strings"
	"time"
)

// User is a trader's profile with their brokerage account (schema user/1,
// topic users, compacted by user id).
type User struct {
	ID            int64         `json:"user_id"`
	Name          string        `json:"name"`
	Email         string        `json:"email"`
	Country       string        `json:"country"` // ISO 3166-1 alpha-2, e.g. "DE"
	SignupAt      time.Time     `json:"signup_at"`
	Experience    Experience    `json:"experience"`
	RiskTolerance RiskTolerance `json:"risk_tolerance"`
	Sectors       []string      `json:"sectors"` // preferred sectors, most preferred first
	Account       Account       `json:"account"`
	UpdatedAt     time.Time     `json:"updated_at"`
}

// Account is a user's brokerage account as carried inside a User.
type Account struct {
	ID       int64       `json:"account_id"`
	Type     AccountType `json:"type"`
	Currency string      `json:"currency"` // ISO 4217, e.g. "USD"
	Balance  Decimal     `json:"balance"`
}

// Key returns the Kafka record key: the decimal user id.
func (u *User) Key() []byte { return u.AppendKey(nil) }

// AppendKey appends the Kafka record key (the decimal user id) to dst.
func (u *User) AppendKey(dst []byte) []byte { return strconv.AppendInt(dst, u.ID, 10) }

// AppendJSON appends the user/1 JSON encoding of u to dst. Field order is
// fixed; the output is what DecodeUser accepts.
func (u *User) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"user_id":`...)
	dst = appendInt(dst, u.ID)
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, u.Name)
	dst = append(dst, `,"email":`...)
	dst = appendString(dst, u.Email)
	dst = append(dst, `,"country":`...)
	dst = appendString(dst, u.Country)
	dst = append(dst, `,"signup_at":`...)
	dst = appendTime(dst, u.SignupAt)
	dst = append(dst, `,"experience":`...)
	dst = appendString(dst, string(u.Experience))
	dst = append(dst, `,"risk_tolerance":`...)
	dst = appendString(dst, string(u.RiskTolerance))
	dst = append(dst, `,"sectors":[`...)
	for i, s := range u.Sectors {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	dst = append(dst, `],"account":{"account_id":`...)
	dst = appendInt(dst, u.Account.ID)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, string(u.Account.Type))
	dst = append(dst, `,"currency":`...)
	dst = appendString(dst, u.Account.Currency)
	dst = append(dst, `,"balance":`...)
	dst = appendDecimal(dst, u.Account.Balance)
	dst = append(dst, `},"updated_at":`...)
	dst = appendTime(dst, u.UpdatedAt)
	return append(dst, '}')
}

// Validate checks u against the user/1 rules and returns an *Error
// describing the first problem, or nil.
func (u *User) Validate() error {
	switch {
	case u.ID <= 0:
		return outOfRange("user_id", "must be positive")
	case u.Name == "":
		return missing("name")
	case len(u.Name) > maxName:
		return outOfRange("name", "too long")
	case u.Email == "":
		return missing("email")
	case len(u.Email) > maxEmail:
		return outOfRange("email", "too long")
	case !plausibleEmail(u.Email):
		return invalid("email", "not an email address")
	case !isUpperAlpha(u.Country, 2):
		return invalid("country", "want an ISO 3166-1 alpha-2 code")
	case !u.Experience.Valid():
		return invalid("experience", "unknown experience level")
	case !u.RiskTolerance.Valid():
		return invalid("risk_tolerance", "unknown risk tolerance")
	case len(u.Sectors) > maxSectors:
		return outOfRange("sectors", "too many")
	case u.Account.ID <= 0:
		return outOfRange("account.account_id", "must be positive")
	case !u.Account.Type.Valid():
		return invalid("account.type", "unknown account type")
	case !isUpperAlpha(u.Account.Currency, 3):
		return invalid("account.currency", "want an ISO 4217 code")
	case u.Account.Balance.Abs() > MaxMoney:
		return outOfRange("account.balance", "magnitude too large")
	}
	for i, s := range u.Sectors {
		if s == "" || len(s) > maxSector {
			return invalid("sectors", "empty or too long sector name")
		}
		for _, prev := range u.Sectors[:i] {
			if prev == s {
				return invalid("sectors", "duplicate sector")
			}
		}
	}
	if err := checkTime("signup_at", u.SignupAt); err != nil {
		return err
	}
	return checkTime("updated_at", u.UpdatedAt)
}

// plausibleEmail is a cheap sanity check, not RFC 5322: one '@' with a
// non-empty local part and a dotted domain, and no spaces.
func plausibleEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	domain := s[at+1:]
	dot := strings.LastIndexByte(domain, '.')
	return dot > 0 && dot < len(domain)-1
}

// Time bounds accepted on the wire: within the range of UnixNano so that
// every consumer can use it.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

func checkTime(field string, t time.Time) error {
	if t.IsZero() {
		return missing(field)
	}
	if t.Before(minTime) || !t.Before(maxTime) {
		return outOfRange(field, "outside 1970..2262")
	}
	return nil
}
