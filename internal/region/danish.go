package region

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Languages validate speaks. Danish comes first: the host municipalities
// who edit region files read Danish, as the hub's pages are.
const (
	Danish  = "da"
	English = "en"
)

// Lang picks the language of messages from a --lang value and the
// environment (LC_ALL, LC_MESSAGES, LANG): English when asked for,
// Danish otherwise.
func Lang(flag string, getenv func(string) string) string {
	if flag != "" {
		return strings.ToLower(flag)
	}
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := strings.ToLower(getenv(k))
		switch {
		case v == "":
			continue
		case strings.HasPrefix(v, "en"):
			return English
		case strings.HasPrefix(v, "da"):
			return Danish
		}
		break // the first one set decides; C, POSIX and others: Danish
	}
	return Danish
}

// In returns e with its message and hint in lang.
func (e Error) In(lang string) Error {
	if lang == Danish {
		e.Message, e.Hint = Translate(e.Message), Translate(e.Hint)
	}
	return e
}

// In returns every error in lang.
func (es Errors) In(lang string) Errors {
	out := make(Errors, len(es))
	for i, e := range es {
		out[i] = e.In(lang)
	}
	return out
}

// danish maps the English messages of this package (as formats: %q a
// quoted text, %s any text, %d a number, %c a character) to Danish, where
// {n} is the n-th argument. Arguments that are messages themselves
// ("each entry of tags", "a list") are translated too. A message not
// listed stays English.
var danish = [][2]string{
	// the file as a whole
	{`the file is empty`, `filen er tom`},
	{`a region file needs at least id, name, host, domain, members, contact and identity_providers; copy regions/nordjylland.yaml as a start`, `en regionsfil skal mindst have id, name, host, domain, members, contact og identity_providers; kopiér regions/nordjylland.yaml som udgangspunkt`},
	{`the file holds more than one YAML document`, `filen indeholder mere end ét YAML-dokument`},
	{`remove the '---' line; one region per file`, `fjern linjen '---'; én region pr. fil`},
	{`could not read the file: %s`, `filen kunne ikke læses: {1}`},
	{`cannot read the file: %s`, `filen kan ikke læses: {1}`},
	{`is a symbolic link that leads nowhere: %s`, `er et symbolsk link, der ikke fører nogen steder hen: {1}`},
	{`put the region file itself here`, `læg selve regionsfilen her`},
	{`is a symbolic link to %s, outside %s`, `er et symbolsk link til {1}, uden for {2}`},
	{`region files live in the regions folder itself; copy the file here instead of linking to it`, `regionsfiler ligger i selve regionsmappen; kopiér filen hertil i stedet for at linke til den`},
	{`is a symbolic link to %s, which is loaded already`, `er et symbolsk link til {1}, som allerede er indlæst`},
	{`remove the link; each region has exactly one file`, `fjern linket; hver region har præcis én fil`},
	{`is a directory, not a region file`, `er en mappe, ikke en regionsfil`},
	{`remove or rename it; a region file is one YAML file`, `fjern eller omdøb den; en regionsfil er én YAML-fil`},
	{`is not a regular file`, `er ikke en almindelig fil`},
	{`a region file is one plain YAML file`, `en regionsfil er én almindelig YAML-fil`},
	{`the file is larger than the limit of %s for a region file`, `filen er større end grænsen på {1} for en regionsfil`},
	{`the file is %s, more than the limit of %s for a region file`, `filen fylder {1}, mere end grænsen på {2} for en regionsfil`},
	{`a region file is a few kilobytes; check that this is the right file`, `en regionsfil fylder nogle få kilobyte; tjek, at det er den rigtige fil`},
	{`Region %s (%s) is missing from %s`, `Region {1} ({2}) mangler i {3}`},
	{`every region has one file; without it the region's %d municipalities belong to no hub`, `hver region har én fil; uden den hører regionens {1} kommuner ikke til nogen hub`},

	// characters and YAML syntax
	{`the byte 0x%x is not valid UTF-8 text`, `byten 0x{1} er ikke gyldig UTF-8-tekst`},
	{`save the file as UTF-8 (Danish letters æ, ø, å are fine in UTF-8)`, `gem filen som UTF-8 (æ, ø og å er fine i UTF-8)`},
	{`the file holds a NUL byte`, `filen indeholder en NUL-byte`},
	{`the file is damaged or not a text file; remove the character`, `filen er beskadiget eller ikke en tekstfil; fjern tegnet`},
	{`the file holds the control character %U`, `filen indeholder kontroltegnet {1}`},
	{`remove it; a region file holds plain text (tabs only inside values)`, `fjern det; en regionsfil indeholder almindelig tekst (tabulatorer kun inde i værdier)`},
	{`the text in quotes that starts here (%c) is never closed`, `teksten i anførselstegn, der begynder her ({1}), afsluttes aldrig`},
	{`end it with %c on the same line, or remove the quote`, `afslut den med {1} på samme linje, eller fjern anførselstegnet`},
	{`this line is indented with a tab`, `denne linje er rykket ind med en tabulator`},
	{`indent with spaces only`, `ryk kun ind med mellemrum`},
	{`this line's indentation does not match the list above it`, `denne linjes indrykning passer ikke til listen ovenover`},
	{`start each entry's '- ' in the same column as the entries before it`, `begynd hver posts '- ' i samme kolonne som posterne før den`},
	{`this line's indentation does not match the lines above it`, `denne linjes indrykning passer ikke til linjerne ovenover`},
	{`keys of one block start in the same column; indent with spaces`, `nøglerne i en blok begynder i samme kolonne; ryk ind med mellemrum`},
	{`this value holds ': ', which YAML reads as the start of another key`, `denne værdi indeholder ': ', som YAML læser som begyndelsen på endnu en nøgle`},
	{`put the value in quotes, e.g. title: "Konsulent: SSP"`, `sæt værdien i anførselstegn, fx title: "Konsulent: SSP"`},
	{`this line is indented further than the key above it`, `denne linje er rykket længere ind end nøglen ovenover`},
	{`line it up with the key above, or give the key above no value on its own line`, `ret den ind efter nøglen ovenover, eller giv nøglen ovenover ingen værdi på sin egen linje`},
	{`a list entry ('- ') cannot follow a key on the same line`, `en listepost ('- ') kan ikke stå efter en nøgle på samme linje`},
	{`start the list on the next line, indented, or write it as [a, b]`, `begynd listen på næste linje, rykket ind, eller skriv den som [a, b]`},
	{`the list opened with '[' is not closed`, `listen, der åbnes med '[', lukkes ikke`},
	{`close it with ']' on the same line, and put text holding ',' or ']' in quotes`, `luk den med ']' på samme linje, og sæt tekst med ',' eller ']' i anførselstegn`},
	{`the braces opened with '{' are not closed`, `klammerne, der åbnes med '{', lukkes ikke`},
	{`close them with '}', and put text holding ',' or '}' in quotes`, `luk dem med '}', og sæt tekst med ',' eller '}' i anførselstegn`},
	{"a value here starts with a character YAML reserves (such as @ or `)", "en værdi her begynder med et tegn, som YAML reserverer (fx @ eller `)"},
	{`put the value in quotes`, `sæt værdien i anførselstegn`},
	{`this line has no ':' after its key`, `denne linje har intet ':' efter sin nøgle`},
	{`write key: value`, `skriv nøgle: værdi`},
	{`a backslash in double quotes starts an unknown escape`, `en omvendt skråstreg i dobbelte anførselstegn begynder en ukendt escape-sekvens`},
	{`write \\ for a backslash, or use single quotes`, `skriv \\ for en omvendt skråstreg, eller brug enkelte anførselstegn`},
	{`the YAML cannot be read here (%s)`, `YAML'en kan ikke læses her ({1})`},
	{`check indentation (spaces, not tabs) and that text with ':' or '#' is in quotes`, `tjek indrykningen (mellemrum, ikke tabulatorer), og at tekst med ':' eller '#' står i anførselstegn`},

	// structure
	{`YAML anchors and aliases (&name, *name) are not supported in region files`, `YAML-ankre og -aliasser (&navn, *navn) understøttes ikke i regionsfiler`},
	{`write the value out in full`, `skriv værdien helt ud`},
	{`a client secret must never be written in a region file`, `en klienthemmelighed må aldrig skrives i en regionsfil`},
	{`refer to it instead: { env: HUBKIT_OIDC_..._SECRET } or { file: /etc/hubkit/secrets/name }`, `henvis til den i stedet: { env: HUBKIT_OIDC_..._SECRET } eller { file: /etc/hubkit/secrets/navn }`},
	{`%s must be a list, not %s`, `{1} skal være en liste, ikke {2}`},
	{`write it as [a, b] or as lines starting with '- '`, `skriv den som [a, b] eller som linjer, der begynder med '- '`},
	{`%s must be a single value, not %s`, `{1} skal være én værdi, ikke {2}`},
	{`%s must be a whole number, not %s`, `{1} skal være et helt tal, ikke {2}`},
	{`for example 30`, `for eksempel 30`},
	{`%s is out of range: %s`, `{1} er uden for det tilladte område: {2}`},
	{`%s must be true or false, not %s`, `{1} skal være true eller false, ikke {2}`},
	{`%s must be a set of 'key: value' lines, not %s`, `{1} skal være et sæt linjer 'nøgle: værdi', ikke {2}`},
	{`a key must be a plain name`, `en nøgle skal være et enkelt navn`},
	{`%q is set twice (first on line %d)`, `{1} er angivet to gange (første gang på linje {2})`},
	{`keep one of them`, `behold én af dem`},
	{`unknown key %q in %s`, `ukendt nøgle {1} i {2}`},
	{`unknown key %q`, `ukendt nøgle {1}`},
	{`allowed keys here: %s`, `tilladte nøgler her: {1}`},
	{`did you mean %q?`, `mente du {1}?`},
	{`one of %s`, `en af {1}`},
	{`each entry of %s`, `hver post i {1}`},
	{`a set of 'key: value' lines`, `et sæt linjer 'nøgle: værdi'`},
	{`a list`, `en liste`},
	{`the number %s`, `tallet {1}`},
	{`the text %q`, `teksten {1}`},
	{`the file`, `filen`},

	// content
	{`%s is missing`, `{1} mangler`},
	{`the region's id, e.g. nordjylland`, `regionens id, fx nordjylland`},
	{`the display name, e.g. Region Nordjylland`, `det viste navn, fx Region Nordjylland`},
	{`the host name the hub is served on, e.g. nordjylland.hub.example`, `værtsnavnet, hubben vises på, fx nordjylland.hub.example`},
	{`%q is not a Danish region id`, `{1} er ikke id'et på en dansk region`},
	{`a host name such as hub.aalborg.dk, without https:// or a path`, `et værtsnavn som hub.aalborg.dk, uden https:// og sti`},
	{`domain %q must be a bare host name`, `domain {1} skal være et rent værtsnavn`},
	{`%q is not a full domain name`, `{1} er ikke et fuldt domænenavn`},
	{`%q is not a valid domain name (label %q)`, `{1} er ikke et gyldigt domænenavn (delen {2})`},
	{`domain %q is local; .localhost is only for development region files (dev: true)`, `domain {1} er lokalt; .localhost er kun til udviklingsfiler (dev: true)`},
	{`a municipality name or code, e.g. Aalborg or 851`, `et kommunenavn eller en kommunekode, fx Aalborg eller 851`},
	{`%s is not a municipality code`, `{1} er ikke en kommunekode`},
	{`codes are three digits, e.g. 851 for Aalborg; see internal/kommune/kommuner.csv`, `koder har tre cifre, fx 851 for Aalborg; se internal/kommune/kommuner.csv`},
	{`write the name as in internal/kommune/kommuner.csv, or the code`, `skriv navnet som i internal/kommune/kommuner.csv, eller koden`},
	{`unknown municipality %q`, `ukendt kommune {1}`},
	{`identity provider for %s is not a member of %s`, `login-udbyderen for {1} er ikke medlem af {2}`},
	{`kommune %s is not a member of %s`, `kommunen {1} er ikke medlem af {2}`},
	{`coverage %s is not a member of %s`, `dækningsområdet {1} er ikke medlem af {2}`},
	{`add it to members, or use a member municipality`, `tilføj den under members, eller brug en medlemskommune`},
	{`list every municipality of the region under members:`, `skriv alle regionens kommuner under members:`},
	{`%s is listed twice in members (also entry %d)`, `{1} står to gange i members (også post {2})`},
	{`remove one`, `fjern den ene`},
	{`%s belongs to Region %s, not Region %s`, `{1} hører til Region {2}, ikke Region {3}`},
	{`remove it here; it is listed in regions/%s.yaml`, `fjern den her; den står i regions/{1}.yaml`},
	{`members lacks 1 municipality of Region %s: %s`, `members mangler 1 kommune i Region {1}: {2}`},
	{`members lacks %d municipalities of Region %s: %s`, `members mangler {1} kommuner i Region {2}: {3}`},
	{`every municipality of the region is a member; add them`, `alle regionens kommuner er medlemmer; tilføj dem`},
	{`the host municipality (værtskommune), e.g. host: Aalborg`, `værtskommunen, fx host: Aalborg`},
	{`host %s is not a member of the region`, `værtskommunen {1} er ikke medlem af regionen`},
	{`the host must be one of the members`, `værtskommunen skal være et af medlemmerne`},
	{`add contact: with hotline, email and accessibility_statement`, `tilføj contact: med hotline, email og accessibility_statement`},
	{`the consultants' phone number`, `konsulenternes telefonnummer`},
	{`the URL of the hub's accessibility statement (tilgængelighedserklæring), required by law`, `URL'en til hubbens tilgængelighedserklæring, som loven kræver`},
	{`add at least the host municipality's OpenID Connect provider`, `tilføj mindst værtskommunens OpenID Connect-udbyder`},
	{`%s already has an identity provider (entry %d)`, `{1} har allerede en login-udbyder (post {2})`},
	{`one provider per municipality; remove or merge them`, `én udbyder pr. kommune; fjern eller slå dem sammen`},
	{`the provider's issuer URL, as in its /.well-known/openid-configuration`, `udbyderens issuer-URL, som i dens /.well-known/openid-configuration`},
	{`the client id the municipality registered for this hub`, `det klient-id, kommunen har registreret hubben med`},
	{`scope %q is not a single word`, `scope {1} er ikke ét ord`},
	{`list scopes one per entry`, `skriv ét scope pr. post`},
	{`scopes must include openid`, `scopes skal indeholde openid`},
	{`add openid to the list`, `tilføj openid til listen`},
	{`roles maps no claim value to a hubkit role, so nobody could log in`, `roles knytter ingen claim-værdi til en hubkit-rolle, så ingen ville kunne logge ind`},
	{`e.g. roles: { consultant: [sikkerhedskonsulent] }`, `fx roles: { consultant: [sikkerhedskonsulent] }`},
	{`%q is not a tenant id`, `{1} er ikke et tenant-id`},
	{`an Entra ID tenant id is a UUID`, `et Entra ID-tenant-id er et UUID`},
	{`%q is not a mail domain`, `{1} er ikke et maildomæne`},
	{`write the part after @, e.g. aalborg.dk`, `skriv delen efter @, fx aalborg.dk`},
	{`an entra provider needs allowed_tenants`, `en entra-udbyder skal have allowed_tenants`},
	{`list the municipality's tenant id(s) so users of other tenants are refused`, `skriv kommunens tenant-id('er), så brugere fra andre tenants afvises`},
	{`refer to it: { env: HUBKIT_OIDC_..._SECRET } or { file: /etc/hubkit/secrets/name }`, `henvis til den: { env: HUBKIT_OIDC_..._SECRET } eller { file: /etc/hubkit/secrets/navn }`},
	{`client_secret names both env and file`, `client_secret angiver både env og file`},
	{`keep one`, `behold den ene`},
	{`%q is not an environment variable name`, `{1} er ikke navnet på en miljøvariabel`},
	{`upper case letters, digits and _, e.g. HUBKIT_OIDC_AALBORG_SECRET`, `store bogstaver, cifre og _, fx HUBKIT_OIDC_AALBORG_SECRET`},
	{`%q is not an absolute path`, `{1} er ikke en absolut sti`},
	{`e.g. /etc/hubkit/secrets/aalborg-oidc`, `fx /etc/hubkit/secrets/aalborg-oidc`},
	{`client_secret names neither env nor file`, `client_secret angiver hverken env eller file`},
	{`{ env: NAME } or { file: /path }`, `{ env: NAVN } eller { file: /sti }`},
	{`e.g. SSP-konsulent`, `fx SSP-konsulent`},
	{`e.g. Aalborg Kommune`, `fx Aalborg Kommune`},
	{`%s is listed twice (also resource person %d)`, `{1} står to gange (også ressourceperson {2})`},
	{`%s of %s is listed twice (also resource person %d)`, `{1} fra {2} står to gange (også ressourceperson {3})`},
	{`remove the duplicate person`, `fjern den dobbelte person`},
	{`partner has no contact`, `partneren har ingen kontaktoplysninger`},
	{`give at least one of phone, email, url, address`, `angiv mindst én af phone, email, url, address`},
	{`max_file_size %q is not a size`, `max_file_size {1} er ikke en størrelse`},
	{`e.g. 2 GiB or 500 MB`, `fx 2 GiB eller 500 MB`},
	{`max_file_size %s is outside 1 byte to 100 GiB`, `max_file_size {1} er uden for 1 byte til 100 GiB`},
	{`e.g. 2 GiB`, `fx 2 GiB`},
	{`default_retention_days (%d) is above max_retention_days (%d)`, `default_retention_days ({1}) er over max_retention_days ({2})`},
	{`the default retention must not exceed the maximum`, `standardopbevaringen må ikke overstige maksimum`},
	{`%s is %d; it must be between 1 and %d`, `{1} er {2}; den skal være mellem 1 og {3}`},
	{`unknown %s %q`, `ukendt {1} {2}`},
	{`provider kind`, `udbydertype`},
	{`NSIS level`, `NSIS-niveau`},
	{`tag`, `tag`},
	{`partner kind`, `partnertype`},
	{`visibility`, `synlighed`},
	{`%q is not an email address`, `{1} er ikke en mailadresse`},
	{`write the bare address, e.g. name@kommune.dk`, `skriv kun adressen, fx navn@kommune.dk`},
	{`%q is not a phone number`, `{1} er ikke et telefonnummer`},
	{`%q is not a valid phone number`, `{1} er ikke et gyldigt telefonnummer`},
	{`a Danish number has eight digits, e.g. 12 34 56 78 or +45 12 34 56 78`, `et dansk nummer har otte cifre, fx 12 34 56 78 eller +45 12 34 56 78`},
	{`%q is not a URL`, `{1} er ikke en URL`},
	{`a full address such as https://example.dk/page`, `en fuld adresse som https://example.dk/side`},
	{`%q holds a space or a backslash`, `{1} indeholder et mellemrum eller en omvendt skråstreg`},
	{`a URL has neither; write %20 for a space`, `en URL har ingen af dem; skriv %20 for et mellemrum`},
	{`%q holds a user name or password (before @)`, `{1} indeholder et brugernavn eller en adgangskode (før @)`},
	{`never put credentials in a URL; remove the part before @`, `skriv aldrig loginoplysninger i en URL; fjern delen før @`},
	{`issuer %q has a query (?…)`, `issuer {1} har en forespørgsel (?…)`},
	{`an OpenID Connect issuer has no query; write it exactly as "issuer" in the provider's /.well-known/openid-configuration`, `en OpenID Connect-issuer har ingen forespørgsel; skriv den præcis som "issuer" i udbyderens /.well-known/openid-configuration`},
	{`issuer %q has a fragment (#…)`, `issuer {1} har et fragment (#…)`},
	{`an OpenID Connect issuer has no fragment; write it exactly as "issuer" in the provider's /.well-known/openid-configuration`, `en OpenID Connect-issuer har intet fragment; skriv den præcis som "issuer" i udbyderens /.well-known/openid-configuration`},
	{`%q uses http`, `{1} bruger http`},
	{`http on localhost is allowed only in development region files (dev: true)`, `http på localhost er kun tilladt i udviklingsfiler (dev: true)`},
	{`%q is not an https URL`, `{1} er ikke en https-URL`},
	{`use https://`, `brug https://`},
	{`%s %q is also used by %s`, `{1} {2} bruges også af {3}`},
	{`region id`, `region-id`},
	{`domain`, `domænet`},
	{`mail domain`, `maildomænet`},
	{`each region has its own file, id and domain`, `hver region har sin egen fil, sit eget id og domæne`},
	{`mail domain %q is listed twice in this file`, `maildomænet {1} står to gange i denne fil`},
	{`a mail domain belongs to one municipality's provider`, `et maildomæne hører til én kommunes udbyder`},
	{`%s is also a member in %s`, `{1} er også medlem i {2}`},
	{`a municipality belongs to exactly one region`, `en kommune hører til præcis én region`},
	{`internal: no rule for %s`, `intern fejl: ingen regel for {1}`},
}

type pattern struct {
	re *regexp.Regexp
	da string
}

var patterns = sync.OnceValue(func() []pattern {
	verb := regexp.MustCompile(`%[qsdcUx]`)
	out := make([]pattern, 0, len(danish))
	for _, p := range danish {
		var b strings.Builder
		b.WriteString("^")
		rest := p[0]
		for {
			loc := verb.FindStringIndex(rest)
			if loc == nil {
				b.WriteString(regexp.QuoteMeta(rest))
				break
			}
			b.WriteString(regexp.QuoteMeta(rest[:loc[0]]))
			switch rest[loc[0]+1] {
			case 'q':
				b.WriteString(`("(?:[^"\\]|\\.)*")`)
			case 'd':
				b.WriteString(`(-?\d+)`)
			case 'c':
				b.WriteString(`(.)`)
			case 'U':
				b.WriteString(`(U\+[0-9A-F]{4,6})`)
			case 'x':
				b.WriteString(`([0-9a-f]+)`)
			default:
				b.WriteString(`(.+?)`)
			}
			rest = rest[loc[1]:]
		}
		b.WriteString("$")
		out = append(out, pattern{regexp.MustCompile(b.String()), p[1]})
	}
	return out
})

var placeholder = regexp.MustCompile(`\{(\d)\}`)

// Translate returns the Danish form of one of this package's English
// messages or hints, or msg itself when it has none.
func Translate(msg string) string {
	if msg == "" {
		return msg
	}
	for _, p := range patterns() {
		m := p.re.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		return placeholder.ReplaceAllStringFunc(p.da, func(ph string) string {
			n, _ := strconv.Atoi(ph[1:2])
			if n >= len(m) {
				return ph
			}
			arg := m[n]
			if !strings.HasPrefix(arg, `"`) {
				arg = Translate(arg)
			}
			return arg
		})
	}
	return msg
}
