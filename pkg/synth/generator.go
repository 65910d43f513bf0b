package synth

import (
	"math"
	"math/rand/v2"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/record"
)

// Population parameters. They are tuned so that a person has about 8-15 rows on
// average, about 10% of people have a Prop 64 conviction, and the rare paths occur
// about as often as the brief asks (see the tests for the measured values).
const (
	prop64Share    = 0.10  // base chance of a Prop 64 conviction, times the race multiplier
	maleShare      = 0.78  // people in criminal-history records are mostly men
	violentShare   = 0.02  // people with one super strike / serious violent conviction
	sexOffShare    = 0.014 // people with a PC 290 offence conviction
	registerShare  = 0.75  // of those, people with a REGISTRATION step
	deceasedShare  = 0.01  // people with a DECEASED step
	homeCycleShare = 0.90  // cycles in the person's home county
	meanExtraCyc   = 2.4   // mean number of cycles after the first
	maxCycles      = 30
	meanGapDays    = 900 // mean time between two arrests
	commentShare   = 0.03
	maxCourtDelay  = 540 // days from arrest to court, at most
	maxAge         = 70
	minAge         = 16
)

// Conviction dates run from firstDate to lastDate; arrests stop at lastArrest so that
// most court dates still fall in range.
var (
	firstDate  = record.MakeDate(1961, 1, 1)
	lastArrest = record.MakeDate(2020, 9, 30)
	lastDate   = record.MakeDate(2020, 12, 31)
)

// Stream constants for the two PCG generators: the population and the shuffle draw
// from independent streams so that shuffling never changes what is generated.
const (
	populationStream = 0x636c656172776179 // "clearway"
	shuffleStream    = 0x73687566666c6521 // "shuffle!"
)

// Roles a cycle can play in a person's history.
const (
	roleOrdinary = iota
	roleProp64
	roleViolent
	roleSexOffence
)

// count is one charge within a cycle.
type count struct {
	off        *offence
	viaComment bool // OFFENSE_DESCR says "SEE COMMENT FOR CHARGE"
	convicted  bool
	outcome    int // index into nonConvictions when tried and not convicted
	status     int // statusFelony, statusMisdemeanor, statusInfraction
	chargeToc  string
	courtToc   string
	sents      [2]sentence
	nSents     int
	comment    int // index into comments, or -1
}

// sentence is one part of a convicted count's sentence.
type sentence struct {
	kind   int
	length int // 0 = no length (fines)
	unit   byte
}

// cycle is one arrest-to-disposition episode, or a DECEASED step.
type cycle struct {
	role     int
	arrest   record.Date
	court    record.Date
	disp     record.Date // DISP_DATE of the court rows; usually the court date
	reg      record.Date // registration date when register is set
	county   int
	sheriff  bool // arrested by the sheriff rather than a police department
	hasCourt bool
	register bool
	deceased bool
	arrestOK int    // arrestOnlyOutcomes index for cycles that never reached court
	ofnType  byte   // 'F' or 'M' (felony or misdemeanor court case)
	ofnNum   uint32 // court case number; 0 = missing OFN
	booking  uint32
	n        int
	counts   [3]count
}

// countyInfo holds the per-county strings of a row, built once.
type countyInfo struct {
	name, code               string
	courtORI, courtDescr     string
	policeORI, policeDescr   string
	sheriffORI, sheriffDescr string
	coronerORI, coronerDescr string
}

// generator holds the state of one Generate call. Nothing is shared between calls.
type generator struct {
	cfg      Config
	rng      *rand.Rand
	home     int // fixed home county, or -1 for statewide
	counties []countyInfo

	countyW, raceW, eyeW, hairW                 weights
	pobW                                        [3]weights
	prop64W, otherW, relatedW, violentW, pc290W weights
	nonConvW, arrestOnlyW                       weights

	limits shuffleLimits

	cycles []cycle
	prefix []byte // the person's columns 1..35, each followed by a comma
	buf    []byte // the person's rows
	stats  Stats
}

func newGenerator(c Config) *generator {
	g := &generator{
		cfg:    c,
		rng:    rand.New(rand.NewPCG(uint64(c.Seed), populationStream)),
		home:   -1,
		cycles: make([]cycle, 0, maxCycles+1),
		prefix: make([]byte, 0, 512),
		buf:    make([]byte, 0, 64<<10),
	}
	if c.County != "" {
		g.home, _ = record.CountyIndex(c.County)
	}
	cs := record.Counties()
	g.counties = make([]countyInfo, len(cs))
	g.stats.Counties = make([]CountyStats, len(cs))
	for i, ct := range cs {
		g.counties[i] = countyInfo{
			name: ct.Name, code: ct.Code,
			courtORI: "CASC" + ct.Name, courtDescr: ct.Name + " SUPERIOR COURT",
			policeORI: "CAPD" + ct.Name, policeDescr: ct.Name + " POLICE DEPT",
			sheriffORI: "CASO" + ct.Name, sheriffDescr: ct.Name + " CO SHERIFF",
			coronerORI: "CACO" + ct.Name, coronerDescr: ct.Name + " CO CORONER",
		}
		g.stats.Counties[i].Name = ct.Name
	}
	g.countyW = newWeights(len(cs), func(i int) int { return cs[i].Population })
	g.raceW = newWeights(len(races), func(i int) int { return races[i].weight })
	g.eyeW = newWeights(len(eyeColors), func(i int) int { return eyeColors[i].weight })
	g.hairW = newWeights(len(hairColors), func(i int) int { return hairColors[i].weight })
	for grp := range placesOfBirth {
		pl := placesOfBirth[grp]
		g.pobW[grp] = newWeights(len(pl), func(i int) int { return pl[i].weight })
	}
	g.prop64W = offenceWeights(prop64Offences)
	g.otherW = offenceWeights(otherOffences)
	g.relatedW = newWeights(len(relatedOffences), func(int) int { return 1 })
	g.violentW = offenceWeights(violentOffences)
	g.pc290W = offenceWeights(pc290Offences)
	g.nonConvW = newWeights(len(nonConvictions), func(i int) int { return nonConvictions[i].weight })
	g.arrestOnlyW = newWeights(len(arrestOnlyOutcomes), func(i int) int { return arrestOnlyOutcomes[i].weight })
	return g
}

// weights draws an index with probability proportional to its weight.
type weights struct{ cum []uint32 }

func newWeights(n int, w func(int) int) weights {
	cum := make([]uint32, n)
	total := uint32(0)
	for i := range n {
		total += uint32(w(i))
		cum[i] = total
	}
	return weights{cum: cum}
}

func offenceWeights(offs []*offence) weights {
	return newWeights(len(offs), func(i int) int { return offs[i].weight })
}

func (ws weights) pick(r *rand.Rand) int {
	x := r.Uint32N(ws.cum[len(ws.cum)-1])
	lo, hi := 0, len(ws.cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if ws.cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

// pickOffence draws an offence that existed on date d. Every table starts with an
// offence that always existed, which is the fallback after a few unlucky draws.
func (g *generator) pickOffence(ws weights, offs []*offence, d record.Date) *offence {
	for range 8 {
		o := offs[ws.pick(g.rng)]
		if (o.from == 0 || d >= o.from) && (o.until == 0 || d < o.until) {
			return o
		}
	}
	return offs[0]
}

// nextPerson invents one person and formats their rows into g.buf.
func (g *generator) nextPerson() {
	g.stats.Subjects++
	id := g.stats.Subjects
	home := g.home
	if home < 0 {
		home = g.countyW.pick(g.rng)
	}
	rc := &races[g.raceW.pick(g.rng)]
	male := g.chance(maleShare)

	nProp64 := 0
	if g.chance(prop64Share * rc.prop64) {
		nProp64 = 1
		switch x := g.rng.Float64(); {
		case x < 0.03:
			nProp64 = 4
		case x < 0.10:
			nProp64 = 3
		case x < 0.30:
			nProp64 = 2
		}
	}
	violent := g.chance(violentShare)
	sexOff := g.chance(sexOffShare)
	deceased := g.chance(deceasedShare)

	dob := g.planCycles(home, nProp64, violent, sexOff, deceased)
	g.buildPrefix(id, rc, male, dob)

	g.buf = g.buf[:0]
	hasProp64 := false
	for ci := range g.cycles {
		if g.formatCycle(ci, dob) {
			hasProp64 = true
		}
	}
	if hasProp64 {
		g.stats.Prop64Subjects++
	}
	if deceased {
		g.stats.Deceased++
	}
	g.stats.Counties[home].Subjects++
}

// planCycles lays out a person's history: the dates of their cycles (first arrest at
// 16 or older, none after 70 or after 2020), where each happened, which ones carry the
// person's Prop 64, violent or PC 290 convictions, and every count's outcome. It
// returns the date of birth.
func (g *generator) planCycles(home, nProp64 int, violent, sexOff, deceased bool) record.Date {
	r := g.rng
	// Records grow over the decades: the first arrest's position in 1961-2020 has a
	// density rising linearly with time, so about 6% start before 1975.
	// Marijuana convictions collapsed after Prop 64, so most people who have one
	// started their history before it.
	end := lastArrest
	if nProp64 > 0 && g.chance(0.85) {
		end = prop64 - 1
	}
	span := float64(end - firstDate)
	first := firstDate + record.Date(span*math.Sqrt(r.Float64()))
	age0 := minAge + int(r.ExpFloat64()*7)
	if age0 > 60 {
		age0 = 60
	}
	dob := first.AddYears(-age0) - record.Date(r.IntN(365))

	planned := 1 + int(r.ExpFloat64()*meanExtraCyc+0.5)
	if need := nProp64 + b2i(violent) + b2i(sexOff); planned < need {
		planned = need
	}
	if planned > maxCycles {
		planned = maxCycles
	}
	g.cycles = g.cycles[:0]
	// The last arrest leaves room for the court date to stay within maxAge.
	limit := min(lastArrest, dob.AddYears(maxAge+1)-1-maxCourtDelay)
	d := first
	for i := 0; i < planned; i++ {
		if i > 0 {
			d += record.Date(30 + r.ExpFloat64()*meanGapDays)
		}
		if d > limit {
			break
		}
		county := home
		if i > 0 && !g.chance(homeCycleShare) {
			county = g.countyW.pick(r)
		}
		g.cycles = append(g.cycles, cycle{arrest: d, county: county, sheriff: g.chance(0.35)})
	}

	// Hand out the special roles over distinct cycles, Prop 64 first so that a person
	// chosen to have a Prop 64 conviction always gets one.
	var order [maxCycles]int8
	for i := range g.cycles {
		order[i] = int8(i)
	}
	n := len(g.cycles)
	next := 0
	assign := func(role int) {
		if next >= n {
			return
		}
		j := next + r.IntN(n-next)
		// Marijuana convictions collapsed after Prop 64: a cycle after 2016-11-09
		// mostly gives way to an earlier one.
		for try := 0; try < 3 && role == roleProp64 && g.cycles[order[j]].arrest >= prop64 && !g.chance(0.3); try++ {
			j = next + r.IntN(n-next)
		}
		order[next], order[j] = order[j], order[next]
		g.cycles[order[next]].role = role
		next++
	}
	for range nProp64 {
		assign(roleProp64)
	}
	if violent {
		assign(roleViolent)
	}
	if sexOff {
		assign(roleSexOffence)
	}

	for i := range g.cycles {
		g.planCycle(&g.cycles[i])
	}
	if deceased {
		last := g.cycles[len(g.cycles)-1]
		after := max(last.arrest, last.court, last.reg)
		death := min(after+record.Date(30+r.ExpFloat64()*2000), lastDate)
		g.cycles = append(g.cycles, cycle{arrest: death, court: death, county: home, deceased: true})
	}
	return dob
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// planCycle fills in one cycle's court date, counts and outcomes.
func (g *generator) planCycle(c *cycle) {
	r := g.rng
	c.booking = uint32(r.IntN(900_000_000)) + 100_000_000
	// Most cases are disposed within weeks; a few drag on for over a year.
	delay := record.Date(0)
	if !g.chance(0.2) {
		delay = min(record.Date(1+r.ExpFloat64()*45), maxCourtDelay)
	}
	c.court = min(c.arrest+delay, lastDate)
	c.disp = c.court
	if g.chance(0.05) {
		c.disp = min(c.court+record.Date(1+r.IntN(60)), lastDate)
	}
	switch x := r.Float64(); {
	case x < 0.55:
		c.n = 1
	case x < 0.85:
		c.n = 2
	default:
		c.n = 3
	}
	c.hasCourt = c.role != roleOrdinary || !g.chance(0.08)
	if !c.hasCourt {
		c.arrestOK = g.arrestOnlyW.pick(r)
	}

	for k := 0; k < c.n; k++ {
		ct := &c.counts[k]
		*ct = count{comment: -1}
		lead := k == 0
		convictP := 0.35
		switch {
		case c.role == roleProp64 && lead:
			ct.off, convictP = g.pickOffence(g.prop64W, prop64Offences, c.arrest), 1
		case c.role == roleProp64 && g.chance(0.3):
			ct.off, convictP = g.pickOffence(g.prop64W, prop64Offences, c.arrest), 0.3
		case c.role == roleProp64:
			ct.off = relatedOffences[g.relatedW.pick(r)]
		case c.role == roleViolent && lead:
			ct.off, convictP = g.pickOffence(g.violentW, violentOffences, c.arrest), 1
		case c.role == roleSexOffence && lead:
			ct.off, convictP = g.pickOffence(g.pc290W, pc290Offences, c.arrest), 1
		case g.chance(0.04):
			// A marijuana charge that never ends in a conviction: people without a
			// Prop 64 conviction still have Prop 64 arrests and dismissals.
			ct.off, convictP = g.pickOffence(g.prop64W, prop64Offences, c.arrest), 0
		default:
			ct.off = g.pickOffence(g.otherW, otherOffences, c.arrest)
			if lead {
				convictP = 0.65
			}
		}
		ct.viaComment = ct.off.class == classProp64 && g.chance(commentShare)
		ct.chargeToc = ct.off.toc
		if !c.hasCourt {
			continue
		}
		if !g.chance(convictP) {
			ct.outcome = g.nonConvW.pick(r)
			continue
		}
		g.convict(ct, c.court)
		if g.chance(0.01) {
			ct.comment = r.IntN(len(comments))
		}
	}
	c.ofnType = 'M'
	for k := 0; k < c.n; k++ {
		if c.counts[k].chargeToc == "F" {
			c.ofnType = 'F'
		}
	}
	if c.hasCourt && !g.chance(0.02) {
		c.ofnNum = uint32(r.IntN(1_000_000))
	}
	if c.role == roleSexOffence && g.chance(registerShare) {
		c.register = true
		c.reg = min(c.court+record.Date(1+r.IntN(30)), lastDate)
	}
}

// convict decides a convicted count's level and sentence from the law of the day.
func (g *generator) convict(ct *count, d record.Date) {
	r := g.rng
	o := ct.off
	ct.convicted = true
	switch {
	case o.infractionFrom != 0 && d >= o.infractionFrom:
		ct.status = statusInfraction
	case g.chance(o.felony[eraOf(d)]):
		ct.status = statusFelony
	default:
		ct.status = statusMisdemeanor
	}
	switch ct.status {
	case statusFelony:
		ct.chargeToc, ct.courtToc = "F", "F"
	case statusInfraction:
		ct.chargeToc, ct.courtToc = "I", "I"
	default:
		ct.courtToc = "M"
		if ct.chargeToc == "F" && g.chance(0.2) {
			// A wobbler charged as a felony and convicted as a misdemeanor.
			ct.courtToc = "F"
		}
		if ct.chargeToc == "" {
			ct.chargeToc = "M"
		}
	}

	var kind int
	x := r.Float64()
	switch {
	case ct.status == statusInfraction:
		kind = sentFine
	case ct.status == statusFelony && o.severe:
		kind = pickKind(x, 0.8, 0.1, sentPrison, sentJail, sentProbation)
	case ct.status == statusFelony:
		kind = pickKind(x, 0.25, 0.25, sentPrison, sentJail, sentProbation)
	default:
		kind = pickKind(x, 0.35, 0.45, sentJail, sentProbation, sentFine)
	}
	ct.sents[0] = g.sentenceOf(kind, o.severe)
	ct.nSents = 1
	// Some sentences have a second part on a second row with the same CNT_ORDER:
	// probation with a jail term, or jail plus a fine.
	if (kind == sentProbation || kind == sentJail) && g.chance(0.2) {
		extra := sentJail
		if kind == sentJail {
			extra = sentFine
		}
		ct.sents[1] = g.sentenceOf(extra, false)
		ct.nSents = 2
	}
}

func pickKind(x, p1, p2 float64, k1, k2, k3 int) int {
	switch {
	case x < p1:
		return k1
	case x < p1+p2:
		return k2
	}
	return k3
}

func (g *generator) sentenceOf(kind int, severe bool) sentence {
	r := g.rng
	switch kind {
	case sentJail:
		if g.chance(0.15) {
			return sentence{kind, 1 + r.IntN(12), 'M'}
		}
		return sentence{kind, 1 + min(int(r.ExpFloat64()*60), 364), 'D'}
	case sentProbation:
		if g.chance(0.5) {
			return sentence{kind, 12 * (1 + r.IntN(5)), 'M'}
		}
		return sentence{kind, 1 + r.IntN(5), 'Y'}
	case sentPrison:
		if severe {
			return sentence{kind, 2 + r.IntN(24), 'Y'}
		}
		if g.chance(0.3) {
			return sentence{kind, 16, 'M'}
		}
		return sentence{kind, 2 + r.IntN(5), 'Y'}
	}
	return sentence{kind: kind}
}

// Per-row constants.
const (
	stepArrest       = "ARREST/DETAINED/CITED"
	stepCourt        = record.StepCourtAction
	stepRegistration = record.StepRegistration
	stepDeceased     = record.StepDeceased
)

// formatCycle appends a cycle's rows to g.buf and updates the statistics. It reports
// whether the cycle holds a Prop 64 conviction.
func (g *generator) formatCycle(ci int, dob record.Date) bool {
	c := &g.cycles[ci]
	cyc := ci + 1
	ct := &g.counties[c.county]
	age := record.YearsBetween(dob, c.arrest)
	rw := rowWriter{g: g, age: age, county: ct, countyIdx: c.county,
		cyc:    [3]byte{byte('0' + cyc/100), byte('0' + cyc/10%10), byte('0' + cyc%10)},
		arrest: yyyymmdd(c.arrest), court: yyyymmdd(c.court),
	}
	rw.disp = rw.court
	if c.disp != c.court {
		rw.disp = yyyymmdd(c.disp)
	}

	if c.deceased {
		rw.begin(1, 1, &rw.arrest, "90", stepDeceased, "M", "CORONER", ct.coronerORI, ct.coronerDescr)
		rw.emptyCount()
		rw.end()
		return false
	}

	oriType, oriTypeDescr, ori, oriDescr := "P", "POLICE DEPARTMENT", ct.policeORI, ct.policeDescr
	if c.sheriff {
		oriType, oriTypeDescr, ori, oriDescr = "S", "SHERIFF", ct.sheriffORI, ct.sheriffDescr
	}
	for k := 0; k < c.n; k++ {
		cnt := &c.counts[k]
		rw.begin(1, k+1, &rw.arrest, "10", stepArrest, oriType, oriTypeDescr, ori, oriDescr)
		rw.arrestCount(c, cnt)
		rw.end()
	}
	if !c.hasCourt {
		return false
	}
	prop64Conv := false
	for k := 0; k < c.n; k++ {
		cnt := &c.counts[k]
		parts := max(cnt.nSents, 1)
		for s := range parts {
			rw.begin(2, k+1, &rw.court, "30", stepCourt, "C", "COURT", ct.courtORI, ct.courtDescr)
			rw.courtCount(c, cnt, s)
			rw.end()
		}
		if cnt.convicted && cnt.off.class == classProp64 {
			prop64Conv = true
			g.stats.Prop64Convictions++
			g.stats.Counties[c.county].Prop64Convictions++
			if cnt.status == statusFelony {
				g.stats.Prop64Felonies++
			}
		}
	}
	if c.register {
		reg := yyyymmdd(c.reg)
		rw.begin(3, 1, &reg, "60", stepRegistration, oriType, oriTypeDescr, ori, oriDescr)
		rw.registration()
		rw.end()
		g.stats.Registered++
	}
	return prop64Conv
}

// headerLine is the DOJ header row.
func headerLine() []byte {
	var b []byte
	for i, h := range doj.Header {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, h...)
	}
	return append(b, '\n')
}
