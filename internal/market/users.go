package market

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/brianvoe/gofakeit/v7"

	"github.com/tradestream/tradestream/internal/event"
)

// Profile tables. Countries carry the share of users, the chance of a
// local-currency account (EUR or GBP; everyone else holds USD) and local
// mail providers.
type country struct {
	code       string
	weight     float64
	currency   string  // local currency other than USD, if offered
	localShare float64 // chance of holding the local currency
	domains    []string
}

var countries = []country{
	{"US", 0.48, "", 0, []string{"comcast.net", "att.net", "verizon.net"}},
	{"GB", 0.08, "GBP", 0.8, []string{"btinternet.com", "sky.com", "yahoo.co.uk"}},
	{"DE", 0.07, "EUR", 0.8, []string{"gmx.de", "web.de", "t-online.de"}},
	{"FR", 0.04, "EUR", 0.8, []string{"orange.fr", "free.fr", "laposte.net"}},
	{"NL", 0.03, "EUR", 0.75, []string{"ziggo.nl", "kpnmail.nl"}},
	{"ES", 0.03, "EUR", 0.75, []string{"telefonica.net"}},
	{"IT", 0.03, "EUR", 0.75, []string{"libero.it", "virgilio.it"}},
	{"IE", 0.015, "EUR", 0.7, []string{"eircom.net"}},
	{"AT", 0.01, "EUR", 0.75, []string{"gmx.at"}},
	{"BE", 0.01, "EUR", 0.75, []string{"skynet.be"}},
	{"FI", 0.005, "EUR", 0.75, []string{"elisanet.fi"}},
	{"CA", 0.05, "", 0, []string{"rogers.com", "shaw.ca"}},
	{"AU", 0.03, "", 0, []string{"bigpond.com"}},
	{"SG", 0.02, "", 0, []string{"singnet.com.sg"}},
	{"CH", 0.02, "", 0, []string{"bluewin.ch"}},
	{"SE", 0.015, "", 0, []string{"telia.com"}},
	{"JP", 0.015, "", 0, []string{"yahoo.co.jp"}},
	{"IN", 0.02, "", 0, []string{"rediffmail.com"}},
	{"BR", 0.01, "", 0, []string{"uol.com.br"}},
	{"MX", 0.01, "", 0, []string{"prodigy.net.mx"}},
	{"HK", 0.01, "", 0, []string{"netvigator.com"}},
}

var globalDomains = []string{"gmail.com", "outlook.com", "yahoo.com", "icloud.com", "hotmail.com", "proton.me"}

// Per experience level (beginner, intermediate, advanced, professional).
var (
	experienceLevels  = []event.Experience{event.ExperienceBeginner, event.ExperienceIntermediate, event.ExperienceAdvanced, event.ExperienceProfessional}
	experienceWeights = []float64{0.35, 0.35, 0.20, 0.10}
	tenureYears       = []float64{0.6, 2, 4, 7}                   // mean account age
	marginShare       = []float64{0.05, 0.20, 0.45, 0.80}         // chance of a margin account
	medianBalance     = []float64{3_000, 15_000, 60_000, 400_000} // opening balance, lognormal median
	riskWeights       = [][]float64{
		{0.50, 0.40, 0.10},
		{0.30, 0.50, 0.20},
		{0.20, 0.45, 0.35},
		{0.15, 0.40, 0.45},
	}
	riskLevels = []event.RiskTolerance{event.RiskLow, event.RiskMedium, event.RiskHigh}
)

// sectorPopularity weights how often a sector is a user's preference,
// relative to its number of instruments; unlisted sectors weigh 1.
var sectorPopularity = map[string]float64{
	"Technology":             2.0,
	"Communication Services": 1.3,
	"Consumer Discretionary": 1.3,
	"Health Care":            1.0,
	"Financials":             1.0,
	"Energy":                 0.8,
	"Industrials":            0.7,
	"Consumer Staples":       0.6,
}

const (
	minOpeningBalance = 200
	maxOpeningBalance = 20_000_000
	minMarginBalance  = 2_000 // the usual minimum to open a margin account
	balanceSigma      = 0.9
	maxTenureYears    = 20
)

// userGen draws user profiles from its own random stream.
type userGen struct {
	rng           *rand.Rand
	faker         *gofakeit.Faker
	start         time.Time
	sectors       []string
	sectorWeights []float64
	countryWeight []float64
	emails        map[string]struct{}
}

func newUserGen(rng *rand.Rand, start time.Time, sectors []string, sectorSize []int) *userGen {
	g := &userGen{
		rng:    rng,
		faker:  gofakeit.NewFaker(rng, false), // shares the seeded stream: deterministic
		start:  start,
		emails: make(map[string]struct{}),
	}
	g.sectors = sectors
	for i, s := range sectors {
		w, ok := sectorPopularity[s]
		if !ok {
			w = 1
		}
		g.sectorWeights = append(g.sectorWeights, w*float64(sectorSize[i]))
	}
	for _, c := range countries {
		g.countryWeight = append(g.countryWeight, c.weight)
	}
	return g
}

// profile draws user id's profile and the trading traits that go with it.
func (g *userGen) profile(id int64) (event.User, traits) {
	r := g.rng
	exp := pickWeighted(r, experienceWeights)
	risk := pickWeighted(r, riskWeights[exp])
	c := countries[pickWeighted(r, g.countryWeight)]

	first, last := g.faker.FirstName(), g.faker.LastName()
	currency := "USD"
	if c.currency != "" && r.Float64() < c.localShare {
		currency = c.currency
	}

	tenure := min(r.ExpFloat64()*tenureYears[exp], maxTenureYears)
	tenureDur := time.Duration(tenure*365.25*24*float64(time.Hour)) + 24*time.Hour
	signup := g.start.Add(-tenureDur).Truncate(time.Second)

	acctType := event.AccountCash
	if r.Float64() < marginShare[exp] {
		acctType = event.AccountMargin
	}
	bal := logNormal(r, math.Log(medianBalance[exp]), balanceSigma)
	bal = min(max(bal, minOpeningBalance), maxOpeningBalance)
	if acctType == event.AccountMargin {
		bal = max(bal, minMarginBalance)
	}
	balance := event.FromFloat(math.Round(bal*100) / 100)

	tr := traits{exp: uint8(exp), risk: uint8(risk), margin: acctType == event.AccountMargin}
	n := 1 + pickWeighted(r, []float64{0.35, 0.40, 0.25})
	n = min(n, len(g.sectors))
	w := append([]float64(nil), g.sectorWeights...)
	names := make([]string, 0, n)
	for range n {
		k := pickWeighted(r, w)
		w[k] = 0
		tr.sectors = append(tr.sectors, int16(k))
		names = append(names, g.sectors[k])
	}

	u := event.User{
		ID:            id,
		Name:          first + " " + last,
		Email:         g.email(first, last, c),
		Country:       c.code,
		SignupAt:      signup,
		Experience:    experienceLevels[exp],
		RiskTolerance: riskLevels[risk],
		Sectors:       names,
		Account:       event.Account{ID: id, Type: acctType, Currency: currency, Balance: balance},
		UpdatedAt:     g.start,
	}
	return u, tr
}

// email builds a unique, plausible address from the name.
func (g *userGen) email(first, last string, c country) string {
	r := g.rng
	f, l := mailPart(first), mailPart(last)
	var local string
	switch r.IntN(6) {
	case 0, 1:
		local = f + "." + l
	case 2:
		local = f + l
	case 3:
		local = f[:1] + l
	case 4:
		local = f + "_" + l
	default:
		local = f + "." + l + strconv.Itoa(r.IntN(90)+10)
	}
	domain := globalDomains[r.IntN(len(globalDomains))]
	if r.Float64() < 0.3 {
		domain = c.domains[r.IntN(len(c.domains))]
	}
	addr := local + "@" + domain
	for {
		if _, dup := g.emails[addr]; !dup {
			break
		}
		addr = local + strconv.Itoa(r.IntN(9999)+1) + "@" + domain
	}
	g.emails[addr] = struct{}{}
	return addr
}

// mailPart lower-cases a name and keeps only ASCII letters.
func mailPart(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if 'a' <= c && c <= 'z' {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "user"
	}
	return b.String()
}
