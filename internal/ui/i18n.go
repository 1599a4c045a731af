package ui

import (
	"fmt"
	"net/http"
)

// Langs are the languages of the UI, Danish first (the default).
var Langs = []string{"da", "en"}

// LangCookie remembers the language a user chose with ?lang=.
const LangCookie = "hub_lang"

func validLang(s string) bool { return s == "da" || s == "en" }

func other(lang string) string {
	if lang == "en" {
		return "da"
	}
	return "en"
}

// Lang returns the language of a request: ?lang= if valid, else the
// hub_lang cookie if valid, else Danish. It doesn't set the cookie; Render does.
func Lang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); validLang(l) {
		return l
	}
	if c, err := r.Cookie(LangCookie); err == nil && validLang(c.Value) {
		return c.Value
	}
	return "da"
}

// negotiate returns Lang(r) and, when ?lang= chose it, remembers the choice.
func negotiate(w http.ResponseWriter, r *http.Request) string {
	lang := Lang(r)
	if validLang(r.URL.Query().Get("lang")) {
		http.SetCookie(w, &http.Cookie{
			Name: LangCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
			Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		})
	}
	return lang
}

// T returns the catalogue text of key in lang, formatted with args
// (fmt.Sprintf verbs). A key the catalogue lacks is returned as it is, so a
// caller may pass plain text where a key is expected.
func T(lang, key string, args ...any) string {
	m, ok := catalogue[key]
	if !ok {
		return key
	}
	s := m[0]
	if lang == "en" {
		s = m[1]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// HasKey says whether the catalogue has key.
func HasKey(key string) bool { _, ok := catalogue[key]; return ok }

// LoginMessages are the catalogue keys the login handler may pass as
// LoginErrorContent.Message or ChooserContent.Error.
var LoginMessages = []string{
	"login.error.generic", "login.error.unknown_kommune", "login.error.no_provider", "login.error.state",
	"login.error.provider", "login.error.assurance", "login.error.expired", "login.error.csrf",
	"login.error.unavailable",
}

// catalogue holds every text of the UI: Danish, English.
var catalogue = map[string][2]string{
	// Layout.
	"layout.skip":      {"Gå til indhold", "Skip to content"},
	"layout.hub":       {"Sikkerhedskonsulenternes hub", "Security consultants' hub"},
	"nav.label":        {"Hovedmenu", "Main menu"},
	"nav.home":         {"Forside", "Home"},
	"nav.directory":    {"Kontakter", "Directory"},
	"nav.switch":       {"English", "Dansk"},
	"nav.switch.label": {"Switch to English", "Skift til dansk"},
	"nav.user":         {"Logget ind som %s", "Logged in as %s"},
	"nav.logout":       {"Log ud", "Log out"},
	"footer.contact":   {"Kontakt %s", "Contact %s"},
	"footer.hotline":   {"Telefon", "Phone"},
	"footer.email":     {"E-mail", "Email"},
	"footer.address":   {"Adresse", "Address"},
	"footer.hours":     {"Åbningstid", "Opening hours"},
	"footer.a11y":      {"Tilgængelighedserklæring", "Accessibility statement"},

	// Titles.
	"title.home":            {"Forside", "Home"},
	"title.directory":       {"Kontakter", "Directory"},
	"title.directory_print": {"Kontaktliste til udskrift", "Contact list for printing"},
	"title.chooser":         {"Log ind", "Log in"},
	"title.noaccess":        {"Ingen adgang", "No access"},
	"title.loginerror":      {"Login mislykkedes", "Login failed"},
	"title.signedout":       {"Du er logget ud", "You are logged out"},

	// Home.
	"home.heading":      {"Velkommen, %s", "Welcome, %s"},
	"home.heading.anon": {"Velkommen", "Welcome"},
	"home.intro": {"Her finder du kontakter til sikkerhedskonsulenterne, ressourcepersoner og samarbejdspartnere i %s og i resten af landet.",
		"Here you find the security consultants, resource persons and partners of %s and the rest of the country."},
	"home.you":            {"Din adgang", "Your access"},
	"home.name":           {"Navn", "Name"},
	"home.kommune":        {"Kommune", "Municipality"},
	"home.roles":          {"Roller", "Roles"},
	"home.noroles":        {"Ingen roller", "No roles"},
	"home.nsis":           {"Sikringsniveau ved login", "Assurance level of your login"},
	"home.find":           {"Find kontakter", "Find contacts"},
	"home.directory":      {"Kontakter i regionen", "Contacts in the region"},
	"home.directory.desc": {"ressourcepersoner, samarbejdspartnere og kommuner", "resource persons, partners and municipalities"},
	"home.national":       {"Landsdækkende kontakter", "National contacts"},
	"home.national.desc":  {"kontakter i alle fem regioner", "contacts in all five regions"},
	"home.mykommune":      {"Ressourcepersoner i din kommune", "Resource persons in your municipality"},

	"role.consultant":      {"Sikkerhedskonsulent", "Security consultant"},
	"role.resource_person": {"Ressourceperson", "Resource person"},
	"role.professional":    {"Fagperson", "Professional"},
	"role.admin":           {"Administrator", "Administrator"},
	"nsis.low":             {"Lav", "Low"},
	"nsis.substantial":     {"Betydelig", "Substantial"},
	"nsis.high":            {"Høj", "High"},

	// Directory.
	"dir.heading":          {"Kontakter", "Directory"},
	"dir.heading.national": {"Landsdækkende kontakter", "National contacts"},
	"dir.intro": {"Søg blandt ressourcepersoner, samarbejdspartnere, kommuner og regionernes sikkerhedskonsulenter.",
		"Search resource persons, partners, municipalities and the regions' security consultants."},
	"dir.search.label": {"Søg", "Search"},
	"dir.search.hint": {"Fx navn, titel, kommune eller emne. Æ, ø og å kan skrives ae, oe og aa. Avanceret: tag:politi kommune:Aalborg",
		"E.g. name, title, municipality or topic. Æ, ø and å may be written ae, oe and aa. Advanced: tag:police kommune:Aalborg"},
	"dir.search.submit":   {"Søg", "Search"},
	"dir.scope":           {"Område", "Area"},
	"dir.scope.all":       {"Regionen og landsdækkende kontakter", "The region and national contacts"},
	"dir.scope.region":    {"Kun %s", "Only %s"},
	"dir.scope.national":  {"Landsdækkende (alle fem regioner)", "National (all five regions)"},
	"dir.kind":            {"Type", "Type"},
	"dir.kind.all":        {"Alle typer", "All types"},
	"dir.tag":             {"Emne", "Topic"},
	"dir.tag.all":         {"Alle emner", "All topics"},
	"dir.kommune":         {"Kommune", "Municipality"},
	"dir.kommune.all":     {"Alle kommuner", "All municipalities"},
	"dir.reset":           {"Nulstil søgning", "Clear search"},
	"dir.results":         {"Resultater", "Results"},
	"dir.count.one":       {"1 kontakt fundet", "1 contact found"},
	"dir.count.other":     {"%d kontakter fundet", "%d contacts found"},
	"dir.none":            {"Ingen kontakter passer på søgningen. Prøv med færre ord eller færre afgrænsninger.", "No contacts match. Try fewer words or filters."},
	"dir.export":          {"Hent som kontaktkort (vCard)", "Download as contact cards (vCard)"},
	"dir.export.file":     {"kontakter", "contacts"},
	"dir.export.hint":     {"Hent de viste kontakter til din telefon eller dit mailprogram.", "Download the contacts shown to your phone or mail program."},
	"dir.print":           {"Udskriftsvenlig liste", "Printable list"},
	"dir.bad_filter":      {"Søgningen indeholdt et ugyldigt filter (%s). Vælg filtrene i formularen.", "The search had an invalid filter (%s). Choose the filters in the form."},
	"dir.vcard":           {"Hent kontaktkort", "Download contact card"},
	"dir.vcard.for":       {"for %s", "for %s"},
	"dir.email":           {"E-mail", "Email"},
	"dir.phone":           {"Telefon", "Phone"},
	"dir.web":             {"Hjemmeside", "Website"},
	"dir.address":         {"Adresse", "Address"},
	"dir.kommune.label":   {"Kommune", "Municipality"},
	"dir.topics":          {"Emner", "Topics"},
	"dir.national":        {"Landsdækkende kontakt", "National contact"},
	"dir.other_region":    {"fra %s", "from %s"},
	"dir.coverage":        {"Dækker", "Covers"},
	"dir.coverage.region": {"Hele regionen", "The whole region"},
	"dir.coverage.all":    {"Hele landet", "The whole country"},
	"dir.code":            {"Kommunekode", "Municipality code"},
	"dir.host":            {"Værtskommune for regionens sikkerhedskonsulenter", "Host municipality of the region's security consultants"},
	"dir.login":           {"Login", "Login"},
	"dir.login.yes":       {"Medarbejdere kan logge ind på hubben", "Staff can log in to the hub"},
	"dir.login.no":        {"Login er endnu ikke sat op", "Login is not set up yet"},
	"dir.hub":             {"Regionens hub", "The region's hub"},
	"dir.hostkommune":     {"Værtskommune", "Host municipality"},
	"dir.group.person":    {"Ressourcepersoner", "Resource persons"},
	"dir.group.partner":   {"Samarbejdspartnere", "Partners"},
	"dir.group.kommune":   {"Kommuner", "Municipalities"},
	"dir.group.region":    {"Regionernes sikkerhedskonsulenter", "The regions' security consultants"},

	// Print view.
	"print.generated": {"Udskrevet %s", "Printed %s"},
	"print.filter":    {"Søgning", "Search"},
	"print.all":       {"alle kontakter", "all contacts"},
	"print.button":    {"Udskriv", "Print"},
	"print.howto":     {"Brug browserens udskriftsfunktion (Ctrl+P eller ⌘+P).", "Use your browser's print function (Ctrl+P or ⌘+P)."},
	"print.back":      {"Tilbage til søgningen", "Back to the search"},
	"print.name":      {"Navn", "Name"},
	"print.details":   {"Titel / type", "Title / type"},
	"print.where":     {"Kommune / område", "Municipality / area"},
	"print.phone":     {"Telefon", "Phone"},
	"print.contact":   {"E-mail / web", "Email / web"},
	"print.confidential": {"Kontaktlisten er til brug i arbejdet med sager. Del den ikke uden for kredsen.",
		"This contact list is for casework. Do not share it outside the network."},

	// Login: choose your kommune.
	"chooser.heading": {"Log ind", "Log in"},
	"chooser.intro": {"Vælg den kommune, du arbejder for. Du logger ind med din kommunes eget login.",
		"Choose the municipality you work for. You log in with your municipality's own login."},
	"chooser.last":          {"Sidst valgt", "Chosen last time"},
	"chooser.loginwith":     {"Log ind med %s", "Log in with %s"},
	"chooser.all":           {"Kommuner i regionen", "Municipalities in the region"},
	"chooser.search":        {"Find din kommune", "Find your municipality"},
	"chooser.search.hint":   {"Skriv navnet eller kommunekoden.", "Type the name or the municipality code."},
	"chooser.search.submit": {"Find", "Find"},
	"chooser.count.one":     {"1 kommune", "1 municipality"},
	"chooser.count.other":   {"%d kommuner", "%d municipalities"},
	"chooser.none":          {"Ingen kommuner passer på søgningen.", "No municipality matches the search."},
	"chooser.unavailable":   {"login er ikke sat op endnu", "login is not set up yet"},
	"chooser.help":          {"Har du brug for hjælp?", "Need help?"},
	"chooser.help.body": {"Kan du ikke finde din kommune, eller virker dit login ikke, så kontakt sikkerhedskonsulenterne:",
		"If you can't find your municipality, or your login doesn't work, contact the security consultants:"},

	// Login: no access, error, signed out.
	"noaccess.heading": {"Du har ikke adgang til hubben", "You have no access to this hub"},
	"noaccess.body": {"Dit login lykkedes, men din bruger har ingen rolle i %s' hub. Adgang gives af din kommune.",
		"Your login worked, but your user has no role in the hub of %s. Your municipality grants access."},
	"noaccess.kommune": {"Du loggede ind via %s.", "You logged in through %s."},
	"noaccess.contact": {"Sådan får du adgang", "How to get access"},
	"noaccess.contact.body": {"Kontakt sikkerhedskonsulenterne, eller bed din kommunes IT-afdeling om at give dig en rolle til hubben:",
		"Contact the security consultants, or ask your municipality's IT department to give you a role for the hub:"},
	"noaccess.other": {"Log ind med en anden bruger eller kommune", "Log in with another user or municipality"},

	"loginerror.heading": {"Login mislykkedes", "Login failed"},
	"loginerror.retry":   {"Prøv igen", "Try again"},
	"loginerror.help":    {"Bliver ved med at gå galt? Kontakt sikkerhedskonsulenterne:", "Keeps going wrong? Contact the security consultants:"},

	"signedout.heading":  {"Du er logget ud", "You are logged out"},
	"signedout.body":     {"Du er logget ud af hubben.", "You have logged out of the hub."},
	"signedout.again":    {"Log ind igen", "Log in again"},
	"signedout.provider": {"Du kan stadig være logget ind hos din kommunes login (%s).", "You may still be logged in at your municipality's login (%s)."},
	"signedout.provider.anon": {"Du kan stadig være logget ind hos din kommunes login.",
		"You may still be logged in at your municipality's login."},
	"signedout.provider.link": {"Log også ud der", "Log out there too"},
	"signedout.shared": {"Bruger du en fælles computer, så luk alle browservinduer.",
		"On a shared computer, close all browser windows."},

	"login.error.generic": {"Login kunne ikke gennemføres. Prøv igen.", "The login could not be completed. Please try again."},
	"login.error.unknown_kommune": {"Den valgte kommune hører ikke til denne region. Vælg din kommune på listen.",
		"The municipality chosen is not in this region. Choose your municipality from the list."},
	"login.error.no_provider": {"Din kommune har endnu ikke login til hubben. Kontakt sikkerhedskonsulenterne.",
		"Your municipality has no login to the hub yet. Contact the security consultants."},
	"login.error.state": {"Login tog for lang tid eller blev startet i en anden fane. Start forfra.",
		"The login took too long or was started in another tab. Please start again."},
	"login.error.provider": {"Din kommunes login meldte en fejl. Prøv igen om lidt.",
		"Your municipality's login reported an error. Please try again shortly."},
	"login.error.assurance": {"Dit login har ikke et højt nok sikringsniveau (NSIS) til hubben. Log ind med MitID eller to-faktor-login.",
		"Your login's assurance level (NSIS) is too low for the hub. Log in with MitID or two-factor login."},
	"login.error.expired": {"Du er blevet logget ud, fordi du har været inaktiv for længe. Log ind igen.",
		"You were logged out after being inactive for too long. Please log in again."},
	"login.error.csrf": {"Formularen var forældet. Gå tilbage, genindlæs siden og prøv igen.",
		"The form had expired. Go back, reload the page and try again."},
	"login.error.unavailable": {"Din kommunes login svarer ikke lige nu. Prøv igen om lidt, eller kontakt kommunens IT-support, hvis det varer ved.",
		"Your municipality's login does not answer right now. Please try again shortly, or contact your municipality's IT support if it persists."},

	// Errors.
	"error.code":      {"Fejlkode %d", "Error code %d"},
	"error.id":        {"reference %s", "reference %s"},
	"error.home":      {"Gå til forsiden", "Go to the home page"},
	"error.contact":   {"Fortsætter problemet, så kontakt sikkerhedskonsulenterne:", "If the problem persists, contact the security consultants:"},
	"error.400.title": {"Forespørgslen kunne ikke forstås", "The request could not be understood"},
	"error.400.body": {"Siden fik en forespørgsel, den ikke kunne forstå. Gå tilbage og prøv igen.",
		"The page received a request it could not understand. Go back and try again."},
	"error.401.title": {"Du skal logge ind", "You need to log in"},
	"error.401.body":  {"Log ind for at se siden.", "Log in to see this page."},
	"error.403.title": {"Adgang nægtet", "Access denied"},
	"error.403.body": {"Du har ikke adgang til denne side. Mener du, det er en fejl, så kontakt sikkerhedskonsulenterne.",
		"You do not have access to this page. If you think this is wrong, contact the security consultants."},
	"error.404.title": {"Siden findes ikke", "Page not found"},
	"error.404.body": {"Siden findes ikke, eller den er flyttet. Tjek adressen, eller gå til forsiden.",
		"The page does not exist or has moved. Check the address, or go to the home page."},
	"error.405.title": {"Handlingen er ikke tilladt", "Action not allowed"},
	"error.405.body": {"Siden kan ikke bruges på den måde. Gå tilbage og prøv igen.",
		"This page can't be used that way. Go back and try again."},
	"error.413.title": {"For meget data", "Too much data"},
	"error.413.body": {"Det, du sendte, er for stort. Send mindre ad gangen.",
		"What you sent is too large. Send less at a time."},
	"error.429.title": {"For mange forespørgsler", "Too many requests"},
	"error.429.body": {"Du har sendt for mange forespørgsler på kort tid. Vent et øjeblik, og prøv igen.",
		"You have sent too many requests in a short time. Wait a moment and try again."},
	"error.500.title": {"Der opstod en fejl", "Something went wrong"},
	"error.500.body": {"Der opstod en fejl på hubben. Prøv igen om lidt.",
		"Something went wrong on the hub. Please try again shortly."},
	"error.503.title":   {"Hubben er midlertidigt utilgængelig", "The hub is temporarily unavailable"},
	"error.503.body":    {"Prøv igen om lidt.", "Please try again shortly."},
	"error.507.title":   {"Hubbens lager er fuldt", "The hub's storage is full"},
	"error.507.body":    {"Intet af det, du sendte, blev gemt. Prøv igen senere; en påbegyndt upload kan genoptages.", "Nothing of what you sent was kept. Please try again later; an upload already started can be resumed."},
	"error.other.title": {"Der opstod en fejl", "Something went wrong"},
	"error.other.body":  {"Siden kunne ikke vises. Prøv igen.", "The page could not be shown. Please try again."},
}

// errorKey is the catalogue prefix of an error status's texts.
func errorKey(status int) string {
	switch status {
	case 400, 401, 403, 404, 405, 413, 429, 500, 503, 507:
		return fmt.Sprintf("error.%d", status)
	}
	return "error.other"
}
