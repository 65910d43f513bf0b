package synth

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/clearway/clearway/pkg/record"
)

// This file holds the generator's vocabulary: invented-but-plausible names, person
// descriptors and the offence catalogue. Everything here is read-only after package
// initialisation. Strings written unquoted to the CSV must not contain a comma, a
// double quote or a line break; TestVocabularyIsCSVSafe enforces it.

// Surname groups. Names are common Californian surnames combined at random with given
// names and initials; no combination describes a real person.
var (
	hispanicSurnames = []string{
		"GARCIA", "HERNANDEZ", "LOPEZ", "MARTINEZ", "GONZALEZ", "RODRIGUEZ", "SANCHEZ", "RAMIREZ",
		"FLORES", "TORRES", "RIVERA", "GOMEZ", "DIAZ", "REYES", "MORALES", "CRUZ", "ORTIZ",
		"GUTIERREZ", "CHAVEZ", "RAMOS", "RUIZ", "ALVAREZ", "MENDOZA", "CASTILLO", "JIMENEZ",
		"VASQUEZ", "MORENO", "HERRERA", "MEDINA", "AGUILAR", "VARGAS", "CASTRO", "GUZMAN",
		"FERNANDEZ", "SALAZAR", "SOTO", "DELGADO", "CONTRERAS", "FIGUEROA", "LUNA", "ESTRADA",
		"NAVARRO", "SANDOVAL", "CERVANTES", "ROMERO", "CAMPOS", "VEGA", "MEJIA", "AVILA",
		"IBARRA", "CABRERA", "PADILLA", "ROJAS", "OROZCO", "VALENCIA", "ZAMORA", "ACOSTA",
		"DE LA CRUZ", "GARCIA-LOPEZ", "DE LEON", "SOLIS", "ESPINOZA", "VILLANUEVA", "TRUJILLO",
	}
	generalSurnames = []string{
		"SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "MILLER", "DAVIS", "WILSON", "ANDERSON",
		"TAYLOR", "THOMAS", "MOORE", "JACKSON", "MARTIN", "LEE", "THOMPSON", "WHITE", "HARRIS",
		"CLARK", "LEWIS", "ROBINSON", "WALKER", "YOUNG", "ALLEN", "KING", "WRIGHT", "SCOTT",
		"HILL", "GREEN", "ADAMS", "BAKER", "NELSON", "CARTER", "MITCHELL", "ROBERTS", "TURNER",
		"PHILLIPS", "CAMPBELL", "PARKER", "EVANS", "EDWARDS", "COLLINS", "STEWART", "MORRIS",
		"MURPHY", "COOK", "ROGERS", "MORGAN", "COOPER", "PETERSON", "REED", "BAILEY", "BELL",
		"KELLY", "HOWARD", "WARD", "COX", "RICHARDSON", "WOOD", "WATSON", "BROOKS", "BENNETT",
		"GRAY", "JAMES", "HUGHES", "PRICE", "SANDERS", "MYERS", "LONG", "ROSS", "FOSTER",
		"POWELL", "JENKINS", "PERRY", "RUSSELL", "SULLIVAN", "BUTLER", "BARNES", "FISHER",
		"HENDERSON", "COLEMAN", "SIMMONS", "PATTERSON", "JORDAN", "REYNOLDS", "HAMILTON",
		"GRAHAM", "WALLACE", "WASHINGTON", "FREEMAN", "HAYES", "BRYANT", "WELLS", "O'BRIEN",
		"MCDONALD", "HOLMES", "DIXON", "GRANT", "BANKS", "STEVENS", "WATKINS", "SIMPSON",
		"TUCKER", "PORTER", "HUNTER", "HICKS", "CRAWFORD", "BOYD", "MASON", "WARREN", "BLACK",
		"ROBERSON", "DANIELS", "JEFFERSON", "MAYFIELD", "SHELTON", "FRANKLIN", "BOOKER",
	}
	asianSurnames = []string{
		"NGUYEN", "TRAN", "LE", "PHAM", "HUYNH", "VO", "DANG", "BUI", "DO", "WANG", "CHEN",
		"LI", "ZHANG", "LIU", "HUANG", "WONG", "CHANG", "LAM", "KIM", "PARK", "CHOI", "JUNG",
		"KANG", "SANTOS", "REYES", "CRUZ", "BAUTISTA", "DELA CRUZ", "GARCIA", "MENDOZA",
		"TANAKA", "NAKAMURA", "YAMAMOTO", "SATO", "PATEL", "SINGH", "SHAH", "KHAN", "VANG",
		"XIONG", "LOR", "YANG", "THAO", "CHU", "HO", "TRUONG",
	}
	maleGivenNames = []string{
		"JOSE", "JUAN", "LUIS", "CARLOS", "JESUS", "MIGUEL", "ANTONIO", "FRANCISCO", "JORGE",
		"MANUEL", "RICARDO", "ALEJANDRO", "EDUARDO", "FERNANDO", "RAUL", "OSCAR", "JAVIER",
		"MICHAEL", "DAVID", "JAMES", "JOHN", "ROBERT", "WILLIAM", "RICHARD", "JOSEPH", "THOMAS",
		"CHARLES", "CHRISTOPHER", "DANIEL", "MATTHEW", "ANTHONY", "MARK", "DONALD", "STEVEN",
		"PAUL", "ANDREW", "JOSHUA", "KENNETH", "KEVIN", "BRIAN", "GEORGE", "TIMOTHY", "RONALD",
		"JASON", "EDWARD", "JEFFREY", "RYAN", "JACOB", "GARY", "NICHOLAS", "ERIC", "JONATHAN",
		"STEPHEN", "LARRY", "JUSTIN", "SCOTT", "BRANDON", "BENJAMIN", "SAMUEL", "GREGORY",
		"DEANDRE", "TYRONE", "DARNELL", "MARCUS", "TERRELL", "ANDRE", "JAMAL", "DWAYNE",
		"MINH", "TUAN", "HUNG", "WEI", "JUN", "HYUN", "RAMON", "ARTURO", "ERNESTO", "ADRIAN",
	}
	femaleGivenNames = []string{
		"MARIA", "GUADALUPE", "ROSA", "JUANA", "ANA", "VERONICA", "CLAUDIA", "YOLANDA", "ALMA",
		"LETICIA", "MARIBEL", "ADRIANA", "GABRIELA", "MARY", "PATRICIA", "JENNIFER", "LINDA",
		"ELIZABETH", "BARBARA", "SUSAN", "JESSICA", "SARAH", "KAREN", "LISA", "NANCY", "BETTY",
		"MARGARET", "SANDRA", "ASHLEY", "KIMBERLY", "EMILY", "DONNA", "MICHELLE", "CAROL",
		"AMANDA", "DOROTHY", "MELISSA", "DEBORAH", "STEPHANIE", "REBECCA", "SHARON", "LAURA",
		"CYNTHIA", "KATHLEEN", "AMY", "ANGELA", "SHIRLEY", "BRENDA", "PAMELA", "NICOLE",
		"TANYA", "LATOYA", "KEISHA", "TASHA", "SHONDA", "EBONY", "MONIQUE", "LAKISHA",
		"LINH", "MAI", "MEI", "JIN", "SOO", "ROSARIO", "CARMEN", "TERESA", "SILVIA", "ELENA",
	}
)

// Surname groups, chosen by race so that names look like a Californian population.
const (
	groupGeneral = iota
	groupHispanic
	groupAsian
)

func surnamesOf(group int) []string {
	switch group {
	case groupHispanic:
		return hispanicSurnames
	case groupAsian:
		return asianSurnames
	}
	return generalSurnames
}

// race is a RACE_CODE / RACE_DESCR pair with its share of people in criminal-history
// records and a multiplier on the chance of a Prop 64 conviction (marijuana
// enforcement fell hardest on Black and Latinx Californians).
type race struct {
	code, descr string
	weight      int
	prop64      float64
	group       int
}

var races = []race{
	{"H", "HISPANIC", 410, 1.05, groupHispanic},
	{"W", "WHITE", 310, 0.80, groupGeneral},
	{"B", "BLACK", 170, 1.55, groupGeneral},
	{"A", "OTHER ASIAN", 15, 0.50, groupAsian},
	{"C", "CHINESE", 10, 0.40, groupAsian},
	{"F", "FILIPINO", 15, 0.50, groupAsian},
	{"V", "VIETNAMESE", 10, 0.50, groupAsian},
	{"K", "KOREAN", 5, 0.40, groupAsian},
	{"J", "JAPANESE", 3, 0.40, groupAsian},
	{"I", "AMERICAN INDIAN", 10, 1.00, groupGeneral},
	{"P", "PACIFIC ISLANDER", 5, 0.90, groupGeneral},
	{"O", "OTHER", 30, 0.90, groupGeneral},
	{"X", "UNKNOWN", 7, 0.90, groupGeneral},
}

// codeDescr is a code with its description (eye colour, hair colour, place of birth).
type codeDescr struct {
	code, descr string
	weight      int
}

var eyeColors = []codeDescr{
	{"BRO", "BROWN", 62}, {"BLK", "BLACK", 9}, {"HAZ", "HAZEL", 9}, {"BLU", "BLUE", 12},
	{"GRN", "GREEN", 6}, {"GRY", "GRAY", 2},
}

var hairColors = []codeDescr{
	{"BLK", "BLACK", 46}, {"BRO", "BROWN", 34}, {"BLN", "BLOND", 8}, {"RED", "RED", 2},
	{"GRY", "GRAY", 5}, {"BLD", "BALD", 5},
}

// placeOfBirth is POB_CODE / POB_NAME / POB_TYPE (S = US state, C = country) and the
// citizenship most people born there hold.
type placeOfBirth struct {
	code, name, kind, citizenship string
	weight                        int
}

// Places of birth per surname group.
var placesOfBirth = [3][]placeOfBirth{
	groupGeneral: {
		{"CA", "CALIFORNIA", "S", "US", 70}, {"TX", "TEXAS", "S", "US", 6}, {"NY", "NEW YORK", "S", "US", 4},
		{"IL", "ILLINOIS", "S", "US", 3}, {"LA", "LOUISIANA", "S", "US", 3}, {"AZ", "ARIZONA", "S", "US", 3},
		{"WA", "WASHINGTON", "S", "US", 2}, {"OR", "OREGON", "S", "US", 2}, {"NV", "NEVADA", "S", "US", 2},
		{"FL", "FLORIDA", "S", "US", 2}, {"OH", "OHIO", "S", "US", 2}, {"UK", "UNITED KINGDOM", "C", "UK", 1},
	},
	groupHispanic: {
		{"CA", "CALIFORNIA", "S", "US", 62}, {"MM", "MEXICO", "C", "MX", 25}, {"ES", "EL SALVADOR", "C", "ES", 5},
		{"GT", "GUATEMALA", "C", "GT", 3}, {"TX", "TEXAS", "S", "US", 3}, {"HO", "HONDURAS", "C", "HO", 1},
		{"AZ", "ARIZONA", "S", "US", 1},
	},
	groupAsian: {
		{"CA", "CALIFORNIA", "S", "US", 50}, {"PI", "PHILIPPINES", "C", "PI", 14}, {"VM", "VIETNAM", "C", "VM", 12},
		{"CH", "CHINA", "C", "CH", 8}, {"KS", "SOUTH KOREA", "C", "KS", 5}, {"LA", "LAOS", "C", "LA", 4},
		{"IN", "INDIA", "C", "IN", 4}, {"HI", "HAWAII", "S", "US", 3},
	},
}

// Offence classes.
const (
	classOther     = iota
	classProp64    // H&S 11357-11360: Prop 64 relief candidates
	classCannabis5 // H&S 11357.5 synthetic cannabinoids: looks like 11357, is not Prop 64
	classPC290     // sex offences requiring PC 290 registration
	classViolent   // super strikes and serious violent felonies
)

// Eras in which felony chances differ: before the 1976 Moscone Act made simple
// possession a misdemeanor, up to Prop 64 (2016-11-09), and after.
var (
	moscone = record.MakeDate(1976, 1, 1)
	prop64  = record.MakeDate(2016, 11, 9)
	// sb1449 made possession of 28.5 g or less an infraction from 2011.
	sb1449 = record.MakeDate(2011, 1, 1)
	// sb94 renamed "marijuana" to "cannabis" in the Health and Safety Code.
	sb94 = record.MakeDate(2017, 6, 27)
)

func eraOf(d record.Date) int {
	switch {
	case d < moscone:
		return 0
	case d < prop64:
		return 1
	}
	return 2
}

// offence is one charge as the DOJ writes it.
type offence struct {
	descr string // OFFENSE_DESCR, "<section> <code>-<text>"
	// descrNew is the wording after SB 94 (cannabis instead of marijuana); equal to
	// descr for other offences.
	descrNew string
	code     string // OFFENSE_CODE: an invented 5-digit number derived from the section
	toc      string // OFFENSE_TOC when charged: "F", "M" or "I"
	// felony is the chance that a conviction is a felony, per era (see eraOf).
	felony [3]float64
	// from and until bound the dates on which the section was charged (0 = open).
	from, until record.Date
	weight      int
	class       int
	// severe offences draw prison sentences of years.
	severe bool
	// infractionFrom, when set, makes convictions on or after it infractions (SB 1449).
	infractionFrom record.Date
}

// description returns OFFENSE_DESCR as written on date d.
func (o *offence) description(d record.Date) string {
	if d >= sb94 {
		return o.descrNew
	}
	return o.descr
}

// offenceCode invents a stable 5-digit OFFENSE_CODE from the description, so that the
// same section always carries the same code whatever the table order.
func offenceCode(descr string) string {
	h := fnv.New32a()
	h.Write([]byte(descr))
	return strconv.Itoa(10000 + int(h.Sum32()%90000))
}

// off builds a catalogue entry.
func off(descr, toc string, felony [3]float64, weight, class int) *offence {
	return &offence{
		descr:    descr,
		descrNew: strings.ReplaceAll(descr, "MARIJUANA", "CANNABIS"),
		code:     offenceCode(descr),
		toc:      toc,
		felony:   felony,
		weight:   weight,
		class:    class,
	}
}

func (o *offence) between(from, until record.Date) *offence {
	o.from, o.until = from, until
	return o
}

func (o *offence) withSevere() *offence { o.severe = true; return o }

func (o *offence) withInfractionFrom(d record.Date) *offence { o.infractionFrom = d; return o }

func year(y int) record.Date { return record.MakeDate(y, 1, 1) }

// Felony chances by era.
var (
	alwaysFelony = [3]float64{1, 1, 1}
	mostlyFelony = [3]float64{0.9, 0.9, 0.85}
	wobbler      = [3]float64{0.7, 0.5, 0.4}
	neverFelony  = [3]float64{0, 0, 0}
	// Drug possession: felony before Prop 47 / Prop 64 era, rarely after.
	drugPossession = [3]float64{0.9, 0.55, 0.05}
	// Cannabis sale/cultivation: felonies before Prop 64 (~85%), rarely after.
	cannabisTrade = [3]float64{0.95, 0.85, 0.15}
	// Cannabis possession: felony before Moscone, rarely after.
	cannabisPossession = [3]float64{0.9, 0.05, 0}
)

// prop64Offences are the H&S 11357-11360 charges, weighted so that about 60% of
// pre-2016 Prop 64 convictions are felonies, as in the county motions.
var prop64Offences = []*offence{
	off("11357 HS-POSSESS MARIJUANA", "M", cannabisPossession, 30, classProp64),
	off("11357(A) HS-POSSESS MARIJUANA", "F", [3]float64{0.9, 0.45, 0}, 80, classProp64),
	off("11357(B) HS-POSSESS MARIJUANA 28.5 GRAMS OR LESS", "M", [3]float64{0.8, 0, 0}, 110, classProp64).withInfractionFrom(sb1449),
	off("11357(C) HS-POSSESS MARIJUANA OVER 28.5 GRAMS", "M", cannabisPossession, 70, classProp64),
	off("11357(D) HS-POSSESS MARIJUANA ON SCHOOL GROUNDS", "M", cannabisPossession, 10, classProp64),
	off("11358 HS-CULTIVATE MARIJUANA", "F", cannabisTrade, 120, classProp64),
	off("11359 HS-POSSESS MARIJUANA FOR SALE", "F", cannabisTrade, 280, classProp64),
	off("11360(A) HS-TRANSPORT/SELL MARIJUANA", "F", cannabisTrade, 200, classProp64),
	off("11360(B) HS-GIVE/TRANSPORT MARIJUANA 28.5 GRAMS OR LESS", "M", cannabisPossession, 20, classProp64).between(moscone, 0),
	off("664/11359 HS-ATTEMPT", "F", [3]float64{0.6, 0.5, 0.05}, 20, classProp64),
	off("664/11360(A) HS-ATTEMPT", "F", [3]float64{0.6, 0.5, 0.05}, 10, classProp64),
	off("11359(C)(3) HS-POSSESS MARIJUANA FOR SALE:MINOR", "F", [3]float64{0, 0, 0.6}, 10, classProp64).between(prop64, 0),
}

// otherOffences are the everyday charges of a criminal history, weighted roughly by
// how often they appear in California arrest records.
var otherOffences = []*offence{
	off("23152(A) VC-DUI ALCOHOL/DRUGS", "M", [3]float64{0, 0.05, 0.05}, 90, classOther),
	off("23152(B) VC-DUI .08 ALCOHOL", "M", [3]float64{0, 0.05, 0.05}, 50, classOther).between(year(1990), 0),
	off("11350(A) HS-POSSESS NARCOTIC CONTROLLED SUBSTANCE", "F", drugPossession, 45, classOther),
	off("11377(A) HS-POSSESS CONTROLLED SUBSTANCE", "F", drugPossession, 45, classOther).between(year(1973), 0),
	off("11378 HS-POSSESS CONTROLLED SUBSTANCE FOR SALE", "F", mostlyFelony, 15, classOther).between(year(1973), 0),
	off("11351 HS-POSSESS/PURCHASE NARCOTIC FOR SALE", "F", mostlyFelony, 12, classOther),
	off("11352(A) HS-TRANSPORT/SELL NARCOTIC CONTROLLED SUBSTANCE", "F", mostlyFelony, 10, classOther),
	off("11364 HS-POSSESS CONTROLLED SUBSTANCE PARAPHERNALIA", "M", neverFelony, 40, classOther),
	off("11550(A) HS-UNDER INFLUENCE OF CONTROLLED SUBSTANCE", "M", neverFelony, 35, classOther),
	off("459 PC-BURGLARY", "F", [3]float64{0.9, 0.6, 0.6}, 40, classOther),
	off("484(A) PC-PETTY THEFT", "M", neverFelony, 45, classOther),
	off("488 PC-PETTY THEFT", "M", neverFelony, 20, classOther),
	off("487(A) PC-GRAND THEFT", "F", wobbler, 15, classOther),
	off("496(A) PC-RECEIVE KNOWN STOLEN PROPERTY", "F", wobbler, 20, classOther),
	off("666 PC-PETTY THEFT WITH PRIOR", "F", wobbler, 8, classOther),
	off("10851(A) VC-TAKE VEHICLE WITHOUT OWNER CONSENT", "F", wobbler, 20, classOther),
	off("14601.1(A) VC-DRIVE WHILE LICENSE SUSPENDED", "M", neverFelony, 30, classOther),
	off("12500(A) VC-DRIVE WITHOUT LICENSE", "M", neverFelony, 25, classOther),
	off("148(A)(1) PC-OBSTRUCT/RESIST PUBLIC OFFICER", "M", neverFelony, 30, classOther),
	off("148 PC-RESIST PUBLIC OFFICER", "M", neverFelony, 10, classOther),
	off("148.9(A) PC-FALSE IDENTIFICATION TO PEACE OFFICER", "M", neverFelony, 8, classOther),
	off("602 PC-TRESPASSING", "M", neverFelony, 20, classOther),
	off("647(F) PC-DISORDERLY CONDUCT:INTOXICATED DRUG/ALCOHOL", "M", neverFelony, 35, classOther),
	off("242 PC-BATTERY", "M", neverFelony, 25, classOther),
	off("243(E)(1) PC-BATTERY ON SPOUSE/EX SPOUSE/DATE", "M", neverFelony, 20, classOther).between(year(1986), 0),
	off("273.5(A) PC-INFLICT CORPORAL INJURY ON SPOUSE/COHABITANT", "F", wobbler, 20, classOther).between(year(1978), 0),
	off("245(A)(1) PC-ASSAULT WITH DEADLY WEAPON", "F", mostlyFelony, 12, classOther).withSevere(),
	off("211 PC-ROBBERY", "F", alwaysFelony, 6, classOther).withSevere(),
	off("422 PC-CRIMINAL THREATS", "F", wobbler, 8, classOther).between(year(1988), 0),
	off("594(A) PC-VANDALISM", "M", neverFelony, 20, classOther),
	off("12025(A)(1) PC-CARRY CONCEALED WEAPON IN VEHICLE", "F", wobbler, 6, classOther).between(0, year(2012)),
	off("12031(A)(1) PC-CARRY LOADED FIREARM IN PUBLIC", "M", wobbler, 5, classOther).between(0, year(2012)),
	off("29800(A)(1) PC-FELON IN POSSESSION OF FIREARM", "F", alwaysFelony, 6, classOther).between(year(2012), 0),
	off("12021(A)(1) PC-FELON/ADDICT POSSESS FIREARM", "F", alwaysFelony, 5, classOther).between(0, year(2012)),
	off("4140 BP-POSSESS HYPODERMIC NEEDLE/SYRINGE", "M", neverFelony, 6, classOther).between(0, year(2015)),
	off("4060 BP-POSSESS CONTROLLED SUBSTANCE WITHOUT PRESCRIPTION", "M", neverFelony, 5, classOther),
	off("466 PC-POSSESS BURGLARY TOOLS", "M", neverFelony, 6, classOther),
	off("1320(A) PC-FAIL TO APPEAR ON MISDEMEANOR CHARGE", "M", neverFelony, 6, classOther),
	off("40508(A) VC-FAIL TO APPEAR ON WRITTEN PROMISE", "M", neverFelony, 10, classOther),
	off("530.5(A) PC-IDENTITY THEFT", "F", wobbler, 6, classOther).between(year(1998), 0),
	off("470(A) PC-FORGERY", "F", wobbler, 5, classOther),
	off("23103 VC-RECKLESS DRIVING", "M", neverFelony, 8, classOther),
	off("20002(A) VC-HIT AND RUN:PROPERTY DAMAGE", "M", neverFelony, 6, classOther),
	off("415(1) PC-FIGHT/CHALLENGE FIGHT IN PUBLIC PLACE", "M", neverFelony, 6, classOther),
	off("243(B) PC-BATTERY ON PEACE OFFICER", "M", neverFelony, 4, classOther),
	off("11357.5 HS-POSSESS SYNTHETIC CANNABINOID", "M", neverFelony, 3, classCannabis5).between(year(2012), 0),
}

// relatedOffences are the charges that typically ride along with a marijuana count in
// the same arrest (gogen's "related charges" and their neighbours).
var relatedOffences = pick(otherOffences,
	"11364 HS", "148 PC", "148(A)(1) PC", "602 PC", "11550(A) HS", "23152(A) VC", "12500(A) VC",
	"647(F) PC", "11377(A) HS", "4140 BP", "459 PC", "10851(A) VC", "466 PC")

// violentOffences are the super strikes and serious violent felonies a few people have.
var violentOffences = []*offence{
	off("187 PC-MURDER", "F", alwaysFelony, 8, classViolent).withSevere(),
	off("664/187 PC-ATTEMPTED MURDER", "F", alwaysFelony, 6, classViolent).withSevere(),
	off("211 PC-ROBBERY", "F", alwaysFelony, 35, classViolent).withSevere(),
	off("245(A)(1) PC-ASSAULT WITH DEADLY WEAPON", "F", mostlyFelony, 35, classViolent).withSevere(),
	off("288(A) PC-LEWD OR LASCIVIOUS ACTS WITH CHILD UNDER 14", "F", alwaysFelony, 6, classViolent).withSevere(),
	off("261(A)(2) PC-RAPE BY FORCE/FEAR", "F", alwaysFelony, 5, classViolent).withSevere(),
	off("220 PC-ASSAULT WITH INTENT TO COMMIT RAPE/ETC", "F", alwaysFelony, 5, classViolent).withSevere(),
}

// pc290Offences require sex-offender registration.
var pc290Offences = []*offence{
	off("288(A) PC-LEWD OR LASCIVIOUS ACTS WITH CHILD UNDER 14", "F", alwaysFelony, 15, classPC290).withSevere(),
	off("261(A)(2) PC-RAPE BY FORCE/FEAR", "F", alwaysFelony, 8, classPC290).withSevere(),
	off("314(1) PC-INDECENT EXPOSURE", "M", [3]float64{0.3, 0.1, 0.1}, 25, classPC290),
	off("647.6(A) PC-ANNOY/MOLEST CHILD UNDER 18", "M", neverFelony, 15, classPC290),
	off("243.4(A) PC-SEXUAL BATTERY", "F", wobbler, 15, classPC290),
	off("311.11(A) PC-POSSESS CHILD PORNOGRAPHY", "F", wobbler, 10, classPC290).between(year(1990), 0),
	off("261.5(C) PC-UNLAWFUL SEX WITH MINOR 3+ YEARS YOUNGER", "F", wobbler, 10, classPC290),
	off("288(C)(1) PC-LEWD ACT WITH CHILD 14 OR 15", "F", wobbler, 5, classPC290),
}

// registration is the offence text of a PC 290 REGISTRATION step.
var registration = off("290 PC-REGISTRATION OF SEX OFFENDER", "", neverFelony, 0, classOther)

// seeComment is OFFENSE_DESCR when the real charge is carried in COMMENT_TEXT.
const seeComment = "SEE COMMENT FOR CHARGE"

// pick returns the offences whose description starts with one of the sections (each
// followed by '-'); it panics on a typo so a broken table fails at start-up.
func pick(from []*offence, sections ...string) []*offence {
	out := make([]*offence, 0, len(sections))
	for _, s := range sections {
		found := false
		for _, o := range from {
			if strings.HasPrefix(o.descr, s+"-") {
				out = append(out, o)
				found = true
				break
			}
		}
		if !found {
			panic("synth: no offence for section " + s)
		}
	}
	return out
}

// outcome is a DISP_CODE / DISP_DESCR pair.
type outcome struct {
	code, descr string
	weight      int
}

// Court outcomes of counts that were not convicted.
var nonConvictions = []outcome{
	{"DIS", "DISMISSED/CHARGE DROPPED", 70},
	{"DFJ", "DISMISSED-FURTHERANCE OF JUSTICE", 15},
	{"DIV", "DIVERSION SUCCESSFULLY COMPLETED", 7},
	{"ACQ", "ACQUITTED", 5},
	{"PSU", "PROCEEDINGS SUSPENDED", 3},
}

// Outcomes written on the arrest rows of a cycle that never reached court.
var arrestOnlyOutcomes = []outcome{
	{"", "", 50},
	{"PRJ", "PROSECUTION REJECTED", 25},
	{"REL", "RELEASED/DETENTION ONLY", 15},
	{"RTO", "REL/TOT OTHER JURIS/AUTH", 10},
}

// Sentence kinds: DISP_DESCR suffix, SENT_LOC_CODE and SENT_LOC_DESCR.
const (
	sentJail = iota
	sentProbation
	sentPrison
	sentFine
)

var sentenceKinds = [...]struct{ disp, locCode, loc string }{
	sentJail:      {"CONVICTED-JAIL", "J", "JAIL"},
	sentProbation: {"CONVICTED-PROBATION", "P", "PROBATION"},
	sentPrison:    {"CONVICTED-PRISON", "S", "PRISON"},
	sentFine:      {"CONVICTED-FINE", "F", "FINE"},
}

// Conviction status codes.
const (
	statusNone = iota
	statusFelony
	statusMisdemeanor
	statusInfraction
)

var statuses = [...]struct{ code, descr, toc string }{
	statusNone:        {"", "", ""},
	statusFelony:      {"F", "FELONY", "F"},
	statusMisdemeanor: {"M", "MISDEMEANOR", "M"},
	statusInfraction:  {"I", "INFRACTION", "I"},
}

// comments are the rare free-text COMMENT_TEXT values; some hold commas and quotes so
// that readers' quoting paths are exercised.
var comments = []string{
	"PROB MODIFIED",
	"SENTENCE MODIFIED, 30 DAYS ADDED",
	"DEF FTA, BENCH WARRANT ISSUED",
	"PROBATION REVOKED AND REINSTATED",
	"CONCURRENT WITH OTHER CASE",
	`DEF STATED "NOT MINE"`,
	"1203.4 PC RELIEF DENIED",
	"RECORD SEALED PER COURT ORDER, SEE FILE",
}
